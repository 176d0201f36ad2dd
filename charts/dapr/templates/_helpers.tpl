{{- /*
Shared helpers of the control-plane chart. Helm makes named templates visible to every subchart, so the subcharts
under charts/ use these too. All of them are prefixed "dcp." (Dapr control plane). Helpers that take more than the
chart root get a dict; its "root" key is the calling chart's root context ($).
*/ -}}

{{- /* The Kubernetes version rendered for: global.kubeVersion when set, else the one Helm reports; always "v..." */ -}}
{{- define "dcp.kubeVersion" -}}
{{- $version := toString (default .Capabilities.KubeVersion.Version .Values.global.kubeVersion) -}}
{{- if hasPrefix "v" $version -}}{{ $version }}{{- else -}}v{{ $version }}{{- end -}}
{{- end -}}

{{- /* "true" when the rendered-for Kubernetes is at least (index . 1), e.g. (list $ "1.28.0"); pre-releases count. */ -}}
{{- define "dcp.kubeAtLeast" -}}
{{- $root := index . 0 -}}
{{- if semverCompare (printf ">=%s-0" (index . 1)) (include "dcp.kubeVersion" $root) -}}true{{- end -}}
{{- end -}}

{{- /* Labels of every object: the app label, then global.k8sLabels (each value a template). dict: root, app. */ -}}
{{- define "dcp.labels" -}}
{{- $root := .root -}}
app: {{ .app }}
{{- range $key, $value := $root.Values.global.k8sLabels }}
{{ $key }}: {{ tpl (toString $value) $root | quote }}
{{- end }}
{{- end -}}

{{- /* Labels of a control-plane pod: the object labels plus global.labels. dict: root, app. */ -}}
{{- define "dcp.podLabels" -}}
{{- include "dcp.labels" . }}
{{- range $key, $value := .root.Values.global.labels }}
{{ $key }}: {{ toString $value | quote }}
{{- end }}
{{- end -}}

{{- /*
Annotations of a control-plane pod: the user's (deploymentAnnotations / statefulsetAnnotations), then the ones the
chart owns, which win: dapr.io/control-plane (sentry's Kubernetes validator gives a pod in sentry's namespace the
identity dapr-<plane> only when it carries this annotation) and the Prometheus scrape hints.
dict: root, plane, extra.
*/ -}}
{{- define "dcp.podAnnotations" -}}
{{- $annotations := dict -}}
{{- range $key, $value := (.extra | default dict) }}
{{- $_ := set $annotations $key (toString $value) -}}
{{- end }}
{{- $_ := set $annotations "dapr.io/control-plane" .plane -}}
{{- $prometheus := .root.Values.global.prometheus -}}
{{- if $prometheus.enabled }}
{{- $_ := set $annotations "prometheus.io/scrape" "true" -}}
{{- $_ := set $annotations "prometheus.io/port" (toString $prometheus.port) -}}
{{- $_ := set $annotations "prometheus.io/path" "/" -}}
{{- end }}
{{- range $key := keys $annotations | sortAlpha }}
{{ $key }}: {{ index $annotations $key | quote }}
{{- end }}
{{- end -}}

{{- /* Replicas of a Deployment: global.ha.replicaCount under HA, else the component's replicaCount. */ -}}
{{- define "dcp.replicas" -}}
{{- if .Values.global.ha.enabled -}}{{ .Values.global.ha.replicaCount }}{{- else -}}{{ .Values.replicaCount }}{{- end -}}
{{- end -}}

{{- /*
The control-plane image. A component's image.name that holds a "/" is a full image reference and is used as it is
(Dapr's rule); any other image.name (Dapr's defaults "operator", "sentry", ...) names a binary inside the one image
this project builds: [<controlPlaneImage.registry>/]<controlPlaneImage.repository>:<tag or appVersion>.
dict: root, name.
*/ -}}
{{- define "dcp.controlPlaneImage" -}}
{{- $name := toString (.name | default "") -}}
{{- if contains "/" $name -}}
{{ $name }}
{{- else -}}
{{- $image := .root.Values.global.controlPlaneImage -}}
{{- $reference := $image.repository -}}
{{- with $image.registry }}{{ $reference = printf "%s/%s" (trimSuffix "/" (toString .)) $reference }}{{ end -}}
{{ $reference }}:{{ toString ($image.tag | default .root.Chart.AppVersion) }}
{{- end -}}
{{- end -}}

{{- /* imagePullSecrets of a control-plane pod, from Dapr's three forms of global.imagePullSecrets. */ -}}
{{- define "dcp.imagePullSecrets" -}}
{{- $secrets := .Values.global.imagePullSecrets -}}
{{- if $secrets }}
imagePullSecrets:
{{- if kindIs "string" $secrets }}
{{- range splitList "," $secrets }}
  - name: {{ trim . | quote }}
{{- end }}
{{- else }}
{{- range $secrets }}
{{- if kindIs "map" . }}
  - name: {{ .name | quote }}
{{- else }}
  - name: {{ toString . | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{- /*
Where a pod may run: nodeSelector, tolerations, priorityClassName, topologySpreadConstraints and affinity, each the
component's own value when it has one, else the global one. Affinity: the user's nodeAffinity, or one pinning the
pod to global.daprControlPlaneOs/Arch; the user's podAntiAffinity, or under HA one spreading the replicas over
global.ha.topologyKey; the user's podAffinity as given.
dict: root, app, ha (bool).
*/ -}}
{{- define "dcp.scheduling" -}}
{{- $values := .root.Values -}}
{{- $global := $values.global -}}
{{- with (coalesce $values.nodeSelector $global.nodeSelector) }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (coalesce $values.tolerations $global.tolerations) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (coalesce $values.priorityClassName $global.priorityClassName) }}
priorityClassName: {{ . | quote }}
{{- end }}
{{- with (coalesce $values.topologySpreadConstraints $global.topologySpreadConstraints) }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- $given := coalesce $values.affinity $global.affinity dict -}}
{{- $affinity := dict -}}
{{- if $given.nodeAffinity }}
{{- $_ := set $affinity "nodeAffinity" $given.nodeAffinity -}}
{{- else if $global.daprControlPlaneOs }}
{{- $terms := list (dict "key" "kubernetes.io/os" "operator" "In" "values" (list $global.daprControlPlaneOs)) -}}
{{- with $global.daprControlPlaneArch }}
{{- $terms = append $terms (dict "key" "kubernetes.io/arch" "operator" "In" "values" (list .)) -}}
{{- end }}
{{- $_ := set $affinity "nodeAffinity" (dict "requiredDuringSchedulingIgnoredDuringExecution" (dict "nodeSelectorTerms" (list (dict "matchExpressions" $terms)))) -}}
{{- end }}
{{- if $given.podAffinity }}
{{- $_ := set $affinity "podAffinity" $given.podAffinity -}}
{{- end }}
{{- if $given.podAntiAffinity }}
{{- $_ := set $affinity "podAntiAffinity" $given.podAntiAffinity -}}
{{- else if .ha }}
{{- $policy := $global.ha.podAntiAffinityPolicy -}}
{{- $term := dict "labelSelector" (dict "matchExpressions" (list (dict "key" "app" "operator" "In" "values" (list .app)))) "topologyKey" $global.ha.topologyKey -}}
{{- if eq $policy "requiredDuringSchedulingIgnoredDuringExecution" }}
{{- $_ := set $affinity "podAntiAffinity" (dict $policy (list $term)) -}}
{{- else if eq $policy "preferredDuringSchedulingIgnoredDuringExecution" }}
{{- $_ := set $affinity "podAntiAffinity" (dict $policy (list (dict "weight" 100 "podAffinityTerm" $term))) -}}
{{- else }}
{{- fail (printf "global.ha.podAntiAffinityPolicy must be preferredDuringSchedulingIgnoredDuringExecution or requiredDuringSchedulingIgnoredDuringExecution, not %q" (toString $policy)) -}}
{{- end }}
{{- end }}
{{- with $affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- /*
Pod-level security context: the Pod Security "restricted" profile (non-root, seccomp) with the image's user and
group. dict: root, fsGroup (optional; default: the image's group).
*/ -}}
{{- define "dcp.podSecurityContext" -}}
{{- $global := .root.Values.global -}}
{{- $image := $global.controlPlaneImage -}}
{{- $fsGroup := .fsGroup | default $image.runAsGroup -}}
securityContext:
  runAsNonRoot: {{ include "dcp.runAsNonRoot" .root }}
  {{- if not (kindIs "invalid" $image.runAsUser) }}
  runAsUser: {{ int64 $image.runAsUser }}
  {{- end }}
  {{- if not (kindIs "invalid" $image.runAsGroup) }}
  runAsGroup: {{ int64 $image.runAsGroup }}
  {{- end }}
  {{- if not (kindIs "invalid" $fsGroup) }}
  fsGroup: {{ int64 $fsGroup }}
  {{- end }}
  {{- with $global.seccompProfile }}
  seccompProfile:
    type: {{ . }}
  {{- end }}
{{- end -}}

{{- /* A component's runAsNonRoot (Dapr's value; anything but false means true). */ -}}
{{- define "dcp.runAsNonRoot" -}}
{{- if eq (toString .Values.runAsNonRoot) "false" -}}false{{- else -}}true{{- end -}}
{{- end -}}

{{- /* Container-level security context of a control-plane container (restricted profile). */ -}}
{{- define "dcp.containerSecurityContext" -}}
securityContext:
  runAsNonRoot: {{ include "dcp.runAsNonRoot" . }}
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop:
      - ALL
{{- end -}}

{{- /* Liveness and readiness: GET /healthz on the healthz port, with the component's timings. dict: root, port. */ -}}
{{- define "dcp.probes" -}}
{{- $values := .root.Values -}}
livenessProbe:
  httpGet:
    path: /healthz
    port: {{ .port }}
  initialDelaySeconds: {{ $values.livenessProbe.initialDelaySeconds }}
  periodSeconds: {{ $values.livenessProbe.periodSeconds }}
  failureThreshold: {{ $values.livenessProbe.failureThreshold }}
readinessProbe:
  httpGet:
    path: /healthz
    port: {{ .port }}
  initialDelaySeconds: {{ $values.readinessProbe.initialDelaySeconds }}
  periodSeconds: {{ $values.readinessProbe.periodSeconds }}
  failureThreshold: {{ $values.readinessProbe.failureThreshold }}
{{- end -}}

{{- /* The logging and metrics flags every binary declares (ObservabilityOptions). */ -}}
{{- define "dcp.observabilityArgs" -}}
- {{ printf "--log-level=%s" (toString .Values.logLevel) | quote }}
{{- if .Values.global.logAsJson }}
- "--log-as-json"
{{- end }}
{{- if .Values.global.prometheus.enabled }}
- "--enable-metrics"
- {{ printf "--metrics-port=%v" .Values.global.prometheus.port | quote }}
{{- else }}
- "--enable-metrics=false"
{{- end }}
{{- end -}}

{{- /* The metrics container port, when Prometheus metrics are on. */ -}}
{{- define "dcp.metricsPort" -}}
{{- if .Values.global.prometheus.enabled }}
- name: metrics
  containerPort: {{ .Values.global.prometheus.port }}
  protocol: TCP
{{- end }}
{{- end -}}

{{- /* The trust bundle's key names, honouring global.issuerFilenames. */ -}}
{{- define "dcp.caFilename" -}}{{ (.Values.global.issuerFilenames | default dict).ca | default "ca.crt" }}{{- end -}}
{{- define "dcp.certFilename" -}}{{ (.Values.global.issuerFilenames | default dict).cert | default "issuer.crt" }}{{- end -}}
{{- define "dcp.keyFilename" -}}{{ (.Values.global.issuerFilenames | default dict).key | default "issuer.key" }}{{- end -}}

{{- /* Non-empty when a CA is brought through dapr_sentry's tls.* values (in sentry's subchart context). */ -}}
{{- define "dcp.sentry.bringsCA" -}}{{ if .Values.tls.root.certPEM }}true{{ end }}{{- end -}}

{{- /* The trust anchors file of the operator, injector and placement (the dapr-trust-bundle ConfigMap's CA key). */ -}}
{{- define "dcp.trustAnchorsFile" -}}/var/run/secrets/dapr.io/tls/{{ include "dcp.caFilename" . }}{{- end -}}

{{- /* Sentry's address for the control plane. */ -}}
{{- define "dcp.sentryAddress" -}}
{{- with .Values.global.mtls.sentryAddress -}}
{{ . }}
{{- else -}}
dapr-sentry.{{ .Release.Namespace }}.svc{{ .Values.global.dnsSuffix }}:443
{{- end -}}
{{- end -}}

{{- /* The audience of the control plane's sentry token: sentry's SPIFFE ID. */ -}}
{{- define "dcp.sentryAudience" -}}
spiffe://{{ .Values.global.mtls.controlPlaneTrustDomain }}/ns/{{ .Release.Namespace }}/dapr-sentry
{{- end -}}

{{- /* Environment the operator and the injector read to reach sentry and trust its certificates. */ -}}
{{- define "dcp.sentryClientEnv" -}}
- name: NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: DAPR_TRUST_ANCHORS_FILE
  value: {{ include "dcp.trustAnchorsFile" . | quote }}
- name: DAPR_CONTROL_PLANE_TRUST_DOMAIN
  value: {{ .Values.global.mtls.controlPlaneTrustDomain | quote }}
- name: DAPR_SENTRY_ADDRESS
  value: {{ include "dcp.sentryAddress" . | quote }}
{{- if not .Values.global.mtls.mountSentryVolume }}
- name: DAPR_SENTRY_TOKEN_FILE
  value: "/var/run/secrets/kubernetes.io/serviceaccount/token"
{{- end }}
{{- end -}}

{{- /* A component's extraEnvVars (a map of name to value). */ -}}
{{- define "dcp.extraEnv" -}}
{{- range $name, $value := (.Values.extraEnvVars | default dict) }}
- name: {{ $name | quote }}
  value: {{ toString $value | quote }}
{{- end }}
{{- end -}}

{{- /* Mounts of the sentry clients (operator, injector, placement): the published trust anchors and the token. */ -}}
{{- define "dcp.sentryClientMounts" -}}
- name: dapr-trust-bundle
  mountPath: /var/run/secrets/dapr.io/tls
  readOnly: true
{{- if .Values.global.mtls.mountSentryVolume }}
- name: dapr-identity-token
  mountPath: /var/run/secrets/dapr.io/sentrytoken
  readOnly: true
{{- end }}
{{- end -}}

{{- /* Volumes of the sentry clients: the dapr-trust-bundle ConfigMap and a projected token for sentry (600 s). */ -}}
{{- define "dcp.sentryClientVolumes" -}}
- name: dapr-trust-bundle
  configMap:
    name: dapr-trust-bundle
{{- if .Values.global.mtls.mountSentryVolume }}
- name: dapr-identity-token
  projected:
    sources:
      - serviceAccountToken:
          path: token
          expirationSeconds: 600
          audience: {{ include "dcp.sentryAudience" . | quote }}
{{- end }}
{{- end -}}

{{- /*
The user's extras for one component, as YAML list items (nothing when there are none): kind is extraVolumes,
extraVolumeMounts, extraContainers or initContainers, each a map from component to list under global.
dict: root, kind, component.
*/ -}}
{{- define "dcp.extra" -}}
{{- $byComponent := index .root.Values.global .kind | default dict -}}
{{- with index $byComponent .component }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- /* A count ("2", 2) as a number, a percentage ("25%") as a string. */ -}}
{{- define "dcp.intOrPercent" -}}
{{- if regexMatch "^[0-9]+$" . -}}{{ . }}{{- else -}}{{ . | quote }}{{- end -}}
{{- end -}}

{{- /*
A PodDisruptionBudget for one control-plane workload under HA, on the policy/v1 API from Kubernetes 1.21 and on
policy/v1beta1 before. minimumAvailable wins over maximumUnavailable (a budget takes only one). dict: root, app.
*/ -}}
{{- define "dcp.disruptionBudget" -}}
{{- $root := .root -}}
{{- $disruption := $root.Values.global.ha.disruption -}}
apiVersion: {{ if include "dcp.kubeAtLeast" (list $root "1.21.0") }}policy/v1{{ else }}policy/v1beta1{{ end }}
kind: PodDisruptionBudget
metadata:
  name: {{ .app }}-disruption-budget
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "dcp.labels" (dict "root" $root "app" .app) | nindent 4 }}
spec:
  {{- $minimum := toString ($disruption.minimumAvailable | default "") -}}
  {{- $maximum := toString ($disruption.maximumUnavailable | default "") }}
  {{- if $minimum }}
  minAvailable: {{ include "dcp.intOrPercent" $minimum }}
  {{- else if $maximum }}
  maxUnavailable: {{ include "dcp.intOrPercent" $maximum }}
  {{- else }}
  maxUnavailable: 1
  {{- end }}
  selector:
    matchLabels:
      app: {{ .app }}
{{- end -}}

{{- /* === Monitoring (parent chart only) ================================================================== */ -}}

{{- /*
The control-plane components this release installs, as a YAML list for fromYamlArray, each with:
  name       the short name (dashboards/<name>.json, global.prometheus.* docs);
  app        the pods' and Services' "app" label, which the monitors make the scrape job's name (jobLabel: app);
  chart      the subchart that installs it (its "component" value labels the component's monitoring objects);
  service    the chart's Service that already carries the "metrics" port, or "" when a ServiceMonitor needs a
             dedicated headless Service (<app>-metrics);
  replicas   false when the component is installed with no replicas (placement's scaleZero).
The injector is left out when dapr_sidecar_injector.enabled is false, placement unless actors are on and served by
this chart's placement (the same conditions as their workloads).
*/ -}}
{{- define "dcp.monitoredComponents" -}}
{{- $values := .Values -}}
{{- $global := $values.global -}}
- name: operator
  app: dapr-operator
  chart: dapr_operator
  service: dapr-api
  replicas: true
{{- if $values.dapr_sidecar_injector.enabled }}
- name: injector
  app: dapr-sidecar-injector
  chart: dapr_sidecar_injector
  service: ""
  replicas: true
{{- end }}
- name: sentry
  app: dapr-sentry
  chart: dapr_sentry
  service: dapr-sentry
  replicas: true
{{- if and $global.actors.enabled (eq (toString $global.actors.serviceName) "placement") }}
- name: placement
  app: dapr-placement-server
  chart: dapr_placement
  service: ""
  replicas: {{ not $values.dapr_placement.scaleZero }}
{{- end }}
{{- end -}}

{{- /*
Labels of a monitoring object of the parent chart: dcp.labels with app.kubernetes.io/component set to `component`,
then the user's `extra` labels (which win). Keys sorted, values quoted. dict: root, app, component, extra.
*/ -}}
{{- define "dcp.monitoringLabels" -}}
{{- $root := merge (dict "Values" (merge (dict "component" .component) .root.Values)) .root -}}
{{- $labels := include "dcp.labels" (dict "root" $root "app" .app) | fromYaml -}}
{{- range $key, $value := (.extra | default dict) }}
{{- $_ := set $labels $key (toString $value) -}}
{{- end }}
{{- range $key := keys $labels | sortAlpha }}
{{ $key }}: {{ index $labels $key | toString | quote }}
{{- end }}
{{- end -}}

{{- /*
Refuses a monitoring value whose objects would have nothing to scrape: with global.prometheus.enabled false the
binaries serve no metrics and the pods have no metrics port. dict: root, value (the value's name).
*/ -}}
{{- define "dcp.requireMetrics" -}}
{{- if not .root.Values.global.prometheus.enabled -}}
{{- fail (printf "%s needs global.prometheus.enabled: with metrics off the binaries serve no metrics to monitor" .value) -}}
{{- end -}}
{{- end -}}

{{- /* The scrape endpoint settings shared by ServiceMonitors and PodMonitors. dict: root, settings (the monitor's values). */ -}}
{{- define "dcp.scrapeEndpoint" -}}
- port: metrics
  path: /metrics
  scheme: http
  {{- with .settings.interval }}
  interval: {{ . | quote }}
  {{- end }}
  {{- with .settings.scrapeTimeout }}
  scrapeTimeout: {{ . | quote }}
  {{- end }}
{{- end -}}
