{{/* The chart's name, or nameOverride. */}}
{{- define "natop.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The prefix of every resource name: fullnameOverride, else the release
name, followed by "-" and the chart's name (or nameOverride) unless the
release name already contains it. */}}
{{- define "natop.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "natop.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "natop.selectorLabels" -}}
app.kubernetes.io/name: {{ include "natop.name" . }}
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

{{/* natop's rules for the kinds in the list: read, watch and patch them,
patch their status, update their finalizers. */}}
{{- define "natop.kindRules" -}}
- apiGroups: ["natop.dev"]
  resources:
    {{- range . }}
    - {{ . }}
    {{- end }}
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["natop.dev"]
  resources:
    {{- range . }}
    - {{ . }}/status
    {{- end }}
  verbs: ["get", "patch"]
- apiGroups: ["natop.dev"]
  resources:
    {{- range . }}
    - {{ . }}/finalizers
    {{- end }}
  verbs: ["update"]
{{- end -}}

{{/* A map without its null values: `key: null` in the values removes a
default, and removes a key the defaults do not have (fsGroup) too. */}}
{{- define "natop.withoutNulls" -}}
{{- $out := dict -}}
{{- range $key, $value := . -}}
{{- if not (kindIs "invalid" $value) -}}
{{- $_ := set $out $key $value -}}
{{- end -}}
{{- end -}}
{{- if $out -}}
{{- toYaml $out -}}
{{- end -}}
{{- end -}}
