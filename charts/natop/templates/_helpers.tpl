{{/* The release's full name: the release name, with "-natop" unless it already says natop. */}}
{{- define "natop.fullname" -}}
{{- if contains "natop" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-natop" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "natop.selectorLabels" -}}
app.kubernetes.io/name: natop
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "natop.labels" -}}
{{ include "natop.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "natop.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "natop.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Namespaces natop may read Secrets in. */}}
{{- define "natop.secretNamespaces" -}}
{{- $namespaces := .Values.secretNamespaces | default (list .Release.Namespace) -}}
{{- $namespaces | uniq | join "," -}}
{{- end -}}

{{- define "natop.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
