{{/* Names and labels. */}}
{{- define "perfbudget.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "perfbudget.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "perfbudget.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "perfbudget.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component (api, worker, setup): call with (list . "api"). */}}
{{- define "perfbudget.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "perfbudget.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "perfbudget.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "perfbudget.secretName" -}}
{{- .Values.existingSecret | default (printf "%s-secrets" (include "perfbudget.fullname" .)) -}}
{{- end -}}

{{/* Configuration of every container: the ConfigMap, the Secret, and the TLS file paths. */}}
{{- define "perfbudget.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "perfbudget.fullname" . }}-config
  - secretRef:
      name: {{ include "perfbudget.secretName" . }}
{{- if .Values.temporalTls.secretName }}
env:
  - name: PERFBUDGET_TEMPORAL_TLS_CLIENT_CERT
    value: /etc/perfbudget/tls/tls.crt
  - name: PERFBUDGET_TEMPORAL_TLS_CLIENT_KEY
    value: /etc/perfbudget/tls/tls.key
  - name: PERFBUDGET_TEMPORAL_TLS_SERVER_CA
    value: /etc/perfbudget/tls/ca.crt
  {{- with .Values.temporalTls.serverName }}
  - name: PERFBUDGET_TEMPORAL_TLS_SERVER_NAME
    value: {{ . | quote }}
  {{- end }}
{{- end }}
{{- end -}}

{{- define "perfbudget.volumeMounts" -}}
volumeMounts:
  # The root filesystem is read-only; Python and the SDK may want a scratch directory.
  - name: tmp
    mountPath: /tmp
{{- if .Values.temporalTls.secretName }}
  - name: temporal-tls
    mountPath: /etc/perfbudget/tls
    readOnly: true
{{- end }}
{{- end -}}

{{- define "perfbudget.volumes" -}}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: 64Mi
{{- if .Values.temporalTls.secretName }}
  - name: temporal-tls
    secret:
      secretName: {{ .Values.temporalTls.secretName }}
{{- end }}
{{- end -}}

{{/* Pod-level settings shared by the api and worker Deployments and the setup Job. */}}
{{- define "perfbudget.podCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The init container that brings the schema to this image's revision. */}}
{{- define "perfbudget.migrateInitContainer" -}}
{{- if .Values.migrations.enabled }}
initContainers:
  - name: db-upgrade
    image: {{ include "perfbudget.image" . }}
    imagePullPolicy: {{ .Values.image.pullPolicy }}
    args: ["db", "upgrade"]
    {{- include "perfbudget.env" . | nindent 4 }}
    {{- include "perfbudget.volumeMounts" . | nindent 4 }}
    securityContext:
      {{- toYaml .Values.securityContext | nindent 6 }}
    resources:
      {{- toYaml .Values.setup.resources | nindent 6 }}
{{- end }}
{{- end -}}

{{/* Restart pods when their configuration changes. */}}
{{- define "perfbudget.configChecksum" -}}
checksum/config: {{ toJson .Values.config | sha256sum }}
checksum/secrets: {{ toJson .Values.secrets | sha256sum }}
{{- end -}}
