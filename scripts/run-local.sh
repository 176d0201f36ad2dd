#!/usr/bin/env bash
# Runs the control plane on this machine: a local Kubernetes API server (built from Debian's packages, see
# docs/kubernetes-test-control-plane.md) with Dapr's CRDs and the dapr-system objects the chart would create, and the
# four services (sentry, operator, injector, placement) on loopback, until Ctrl-C (which stops everything gracefully).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-prerequisites.sh >/dev/null
scripts/kubernetes/build.sh
for product in sentry operator injector placement; do
  swift build --product "$product" 2>&1 | tail -1
done
bin=$(swift build --show-bin-path)

state=.local-cluster
mkdir -p "$state"
run_dir=$(mktemp -d "$state/run.XXXXXX")
logs="$run_dir/logs"
mkdir -p "$logs"
pids=()
kube_pid=""
stop() {
  echo
  echo "stopping the control plane"
  ((${#pids[@]})) && kill -TERM "${pids[@]}" 2>/dev/null || true
  ((${#pids[@]})) && wait "${pids[@]}" 2>/dev/null || true
  [ -z "$kube_pid" ] || { kill -TERM "$kube_pid" 2>/dev/null || true; wait "$kube_pid" 2>/dev/null || true; }
}
trap stop EXIT
trap 'exit 0' INT TERM

echo "starting the Kubernetes API server (logs in $run_dir/kubernetes/logs)"
# In its own session, so that Ctrl-C (which the terminal sends to the whole foreground group) stops the services
# first and the API server only after them: the operator and placement release their Leases on the way out.
setsid scripts/kubernetes/start.sh --dir "$run_dir/kubernetes" --keep >"$run_dir/ready" 2>"$logs/kubernetes-start.log" &
kube_pid=$!
until grep -q '^READY' "$run_dir/ready" 2>/dev/null; do
  kill -0 "$kube_pid" 2>/dev/null || { cat "$logs/kubernetes-start.log" >&2; exit 1; }
  sleep 0.2
done
export KUBECONFIG
KUBECONFIG=$(sed -n 's/.*kubeconfig=\([^ ]*\).*/\1/p' "$run_dir/ready")

# What `helm install dapr charts/dapr -n dapr-system` creates before the services start.
kubectl apply -f crds/ >/dev/null 2>&1
kubectl wait --for condition=Established crd --all --timeout 60s >/dev/null 2>&1
kubectl apply -f - >/dev/null 2>&1 <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: dapr-system}
---
apiVersion: v1
kind: Secret
metadata: {name: dapr-trust-bundle, namespace: dapr-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: dapr-trust-bundle, namespace: dapr-system}
---
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata: {name: daprsystem, namespace: dapr-system}
spec:
  mtls:
    enabled: true
    workloadCertTTL: 24h
    allowedClockSkew: 15m
    controlPlaneTrustDomain: cluster.local
    sentryAddress: dapr-sentry.dapr-system.svc.cluster.local:443
YAML

printf '%-10s %-28s %-28s %s\n' service healthz metrics log
ports() { # healthz and metrics ports of service number $1
  echo $((18080 + $1)) $((19090 + $1))
}
start_service() { # name index extra-args...; environment through `env` before the call
  local name=$1 index=$2
  shift 2
  read -r healthz metrics < <(ports "$index")
  NAMESPACE=dapr-system "$bin/$name" --healthz-port "$healthz" --metrics-port "$metrics" \
    --healthz-listen-address 127.0.0.1 --metrics-listen-address 127.0.0.1 --log-as-json \
    --kubeconfig "$KUBECONFIG" "$@" >"$logs/$name.log" 2>&1 &
  pids+=($!)
  printf '%-10s %-28s %-28s %s\n' "$name" "http://127.0.0.1:$healthz/healthz" "http://127.0.0.1:$metrics/metrics" \
    "$logs/$name.log"
}
wait_ready() { # index
  read -r healthz _ < <(ports "$1")
  until curl -fsS "http://127.0.0.1:$healthz/healthz" >/dev/null 2>&1; do
    kill -0 "${pids[$1]}" 2>/dev/null || { echo "a service exited; see $logs" >&2; exit 1; }
    sleep 0.1
  done
}

# Sentry first: the others get their certificates from it.
start_service sentry 0 --mode kubernetes --trust-domain cluster.local
wait_ready 0
until kubectl get configmap dapr-trust-bundle -n dapr-system -o jsonpath='{.data.ca\.crt}' >"$run_dir/ca.crt" 2>/dev/null \
  && [ -s "$run_dir/ca.crt" ]; do
  sleep 0.2
done

# What the chart gives the operator and the injector: a service account, a pod (never scheduled here) that sentry's
# kubernetes validator recognises as theirs, and a token bound to it with sentry's audience.
for service in operator injector; do
  kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: ServiceAccount
metadata: {name: dapr-$service, namespace: dapr-system}
---
apiVersion: v1
kind: Pod
metadata:
  name: dapr-$service-local
  namespace: dapr-system
  annotations: {dapr.io/control-plane: $service}
spec:
  serviceAccountName: dapr-$service
  containers: [{name: $service, image: dapr/$service}]
YAML
  kubectl create token "dapr-$service" -n dapr-system --duration 24h \
    --audience spiffe://cluster.local/ns/dapr-system/dapr-sentry \
    --bound-object-kind Pod --bound-object-name "dapr-$service-local" >"$run_dir/$service.token"
done
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: dapr-sidecar-injector}
webhooks:
- name: sidecar-injector.dapr.io
  clientConfig: {url: "https://127.0.0.1:4000/mutate"}
  rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods]}]
  failurePolicy: Ignore
  sideEffects: None
  reinvocationPolicy: IfNeeded
  admissionReviewVersions: [v1, v1beta1]
YAML

sentry=127.0.0.1:50001
ENABLE_WEBHOOKS=false DAPR_SENTRY_ADDRESS=$sentry DAPR_SENTRY_TOKEN_FILE="$run_dir/operator.token" \
  start_service operator 1 --trust-anchors-file "$run_dir/ca.crt"
DAPR_SENTRY_ADDRESS=$sentry DAPR_SENTRY_TOKEN_FILE="$run_dir/injector.token" DAPR_TRUST_ANCHORS_FILE="$run_dir/ca.crt" \
  SIDECAR_IMAGE=daprio/daprd:1.18.0 start_service injector 2
start_service placement 3 --metadata-enabled
for i in 1 2 3; do wait_ready "$i"; done
echo
echo "the control plane is ready. In another shell:"
echo "  export KUBECONFIG=$KUBECONFIG"
echo "  kubectl get components,configurations -A"
echo "Ctrl-C stops everything."
wait "${pids[@]}"
