{{- /*
The daprd image the injector adds (SIDECAR_IMAGE): image.name as it is when it holds a "/", else
<global.registry>/<image.name>:<global.tag> (Dapr's rule), or <image.name>:<tag> without a registry.
*/ -}}
{{- define "dcp.sidecarImage" -}}
{{- $name := toString .Values.image.name -}}
{{- if contains "/" $name -}}
{{ $name }}
{{- else -}}
{{- with .Values.global.registry }}{{ trimSuffix "/" (toString .) }}/{{ end }}{{ $name }}:{{ toString .Values.global.tag }}
{{- end -}}
{{- end -}}
