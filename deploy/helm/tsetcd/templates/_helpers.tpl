{{/* The name of every object: the release name unless fullnameOverride is set. */}}
{{- define "tsetcd.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "tsetcd.labels" -}}
app.kubernetes.io/name: tsetcd
app.kubernetes.io/instance: {{ include "tsetcd.fullname" . }}
{{- end -}}

{{- define "tsetcd.image" -}}
{{- if .Values.image.registry -}}{{ .Values.image.registry }}/{{- end -}}{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}

{{/* TLS on or off; the chart has one certificate set for client and peer traffic. */}}
{{- define "tsetcd.tls" -}}
{{- if ne .Values.auth.client.secureTransport .Values.auth.peer.secureTransport -}}
{{- fail "auth.client.secureTransport and auth.peer.secureTransport must be equal: tsetcd's chart uses one certificate set for both" -}}
{{- end -}}
{{- if .Values.auth.client.secureTransport -}}true{{- end -}}
{{- end -}}

{{- define "tsetcd.passwordSecret" -}}
{{- default (include "tsetcd.fullname" .) .Values.auth.rbac.existingSecret -}}
{{- end -}}
