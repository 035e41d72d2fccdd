{{/*
Names, labels and the pieces every pod of the chart shares. Values are described in values.yaml.
*/}}

{{- define "notification-hub.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-scoped base name; suffixes (-worker, -migrate) keep every name within 63 chars. */}}
{{- define "notification-hub.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "notification-hub.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "notification-hub.selectorLabels" -}}
app.kubernetes.io/name: {{ include "notification-hub.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "notification-hub.labels" -}}
helm.sh/chart: {{ include "notification-hub.chart" . }}
{{ include "notification-hub.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: notification-hub
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Name of one role group's objects: the API keeps the base name, others get a suffix. */}}
{{- define "notification-hub.groupName" -}}
{{- $root := index . 0 }}{{ $group := index . 1 }}
{{- if eq $group "api" }}{{ include "notification-hub.fullname" $root }}{{ else }}{{ printf "%s-%s" (include "notification-hub.fullname" $root) $group }}{{ end }}
{{- end }}

{{- define "notification-hub.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "notification-hub.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "notification-hub.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (toString (default .Chart.AppVersion .Values.image.tag)) }}
{{- end }}
{{- end }}

{{/* The Secret the pods read NH_DATABASE_URL, NH_REDIS_URL, NH_ADMIN_TOKEN, NH_CALLBACK_SECRETS from. */}}
{{- define "notification-hub.secretName" -}}
{{- if eq .Values.secrets.mode "external" }}
{{- required "secrets.existingSecret: name the Secret to use when secrets.mode is external" .Values.secrets.existingSecret }}
{{- else }}
{{- include "notification-hub.fullname" . }}
{{- end }}
{{- end }}

{{/* NH_SHUTDOWN_GRACE, and the pod's termination grace computed from it (see values.yaml). */}}
{{- define "notification-hub.terminationGracePeriodSeconds" -}}
{{- add (int .Values.shutdown.preStopSleepSeconds) (int .Values.shutdown.graceSeconds) (int .Values.shutdown.marginSeconds) }}
{{- end }}

{{/*
The `config:` map as ConfigMap data: every value a string, empty values left out (the binary's
default applies). Fails on keys the chart sets itself or that belong in the Secret.
*/}}
{{- define "notification-hub.configData" -}}
{{- $owned := list "NH_HTTP_ADDR" "NH_ROLES" "NH_DATA_DIR" "NH_SHUTDOWN_GRACE" "NH_DATABASE_MIGRATE_ON_START" "NH_CONFIG" }}
{{- $secret := list "NH_DATABASE_URL" "NH_REDIS_URL" "NH_ADMIN_TOKEN" "NH_CALLBACK_SECRETS" }}
{{- range $key, $value := .Values.config }}
{{- if not (regexMatch "^(NH_[A-Z0-9_]+|RUST_LOG)$" $key) }}
{{- fail (printf "config.%s: keys are NH_* environment names (or RUST_LOG), see docs/configuration.md" $key) }}
{{- end }}
{{- if has $key $owned }}
{{- fail (printf "config.%s: set by the chart itself (http.port, the role groups, shutdown.graceSeconds, migrations.enabled); remove it from config" $key) }}
{{- end }}
{{- if has $key $secret }}
{{- fail (printf "config.%s: a secret; put it in secrets.values (secrets.mode=create) or in the external Secret" $key) }}
{{- end }}
{{- if ne (toString $value) "" }}
{{ $key }}: {{ toString $value | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Refuses combinations that would run but lose work. API and relay/worker run in separate pods,
so they must share the production backends (SPEC §2): with the embedded SQLite store or
in-process queues each pod would have its own, and the workers would never see what the API
accepted.
*/}}
{{- define "notification-hub.validate" -}}
{{- if not (has .Values.secrets.mode (list "create" "external")) }}
{{- fail (printf "secrets.mode: %q is neither create nor external" .Values.secrets.mode) }}
{{- end }}
{{- if and .Values.worker.enabled (not .Values.config.NH_KAFKA_BROKERS) }}
{{- fail "config.NH_KAFKA_BROKERS: required; the API and the relay/worker Deployments share work through Kafka (in-process queues are per pod)" }}
{{- end }}
{{- if eq .Values.secrets.mode "create" }}
{{- $db := toString (.Values.secrets.values.NH_DATABASE_URL | default "") }}
{{- if not (regexMatch "^postgres(ql)?://" $db) }}
{{- fail "secrets.values.NH_DATABASE_URL: required, postgres://user:pass@host:5432/db; each pod would otherwise keep its own SQLite file" }}
{{- end }}
{{- if not .Values.secrets.values.NH_REDIS_URL }}
{{- fail "secrets.values.NH_REDIS_URL: required, redis://host:6379; in-process idempotency keys and rate limits are per pod" }}
{{- end }}
{{- end }}
{{- if not (or .Values.api.enabled .Values.worker.enabled) }}
{{- fail "api.enabled, worker.enabled: enable at least one role group" }}
{{- end }}
{{- if lt (int .Values.shutdown.marginSeconds) 1 }}
{{- fail "shutdown.marginSeconds: at least 1, so the kubelet never kills the pod while it is still draining" }}
{{- end }}
{{- end }}

{{/* How many replicas a group runs at least: HPA minimum or the fixed count. */}}
{{- define "notification-hub.minReplicas" -}}
{{- if .autoscaling.enabled }}{{ int .autoscaling.minReplicas }}{{ else }}{{ int .replicaCount }}{{ end }}
{{- end }}

{{/* Pod security context and container security context, shared by every pod. */}}
{{- define "notification-hub.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{- define "notification-hub.containerSecurityContext" -}}
{{- toYaml .Values.securityContext }}
{{- end }}
