{{/* vim: set filetype=mustache: */}}

{{/* Chart name, overridable. */}}
{{- define "conference-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name, at most 63 characters (DNS label). When the release
name already contains the chart name it is used as is.
*/}}
{{- define "conference-gateway.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "conference-gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Standard labels, on every object. */}}
{{- define "conference-gateway.labels" -}}
helm.sh/chart: {{ include "conference-gateway.chart" . }}
{{ include "conference-gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: conference-gateway
{{- end }}

{{/* Labels that select the gateway's pods; never change them on upgrade. */}}
{{- define "conference-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "conference-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end }}

{{- define "conference-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "conference-gateway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "conference-gateway.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* Secret with the Telnyx keys and caller tokens: the existing one or the chart's. */}}
{{- define "conference-gateway.secretName" -}}
{{- .Values.secret.existingSecret | default (include "conference-gateway.fullname" .) }}
{{- end }}

{{- define "conference-gateway.redisEnabled" -}}
{{- if or .Values.redis.url .Values.redis.existingSecret }}true{{ end }}
{{- end }}

{{- define "conference-gateway.redisSecretName" -}}
{{- .Values.redis.existingSecret | default (printf "%s-redis" (include "conference-gateway.fullname" .) | trunc 63 | trimSuffix "-") }}
{{- end }}

{{- define "conference-gateway.redisSecretKey" -}}
{{- if .Values.redis.existingSecret }}{{ .Values.redis.existingSecretKey }}{{ else }}redis-url{{ end }}
{{- end }}

{{/* Whether a tokens file is mounted (GATEWAY_AUTH_TOKENS_FILE). */}}
{{- define "conference-gateway.tokensMounted" -}}
{{- if .Values.secret.existingSecret }}
{{- if .Values.secret.keys.authTokens }}true{{ end }}
{{- else if .Values.auth.tokens }}true{{ end }}
{{- end }}

{{- define "conference-gateway.tokensDir" -}}/etc/conference-gateway/auth{{- end }}
{{- define "conference-gateway.policyDir" -}}/etc/conference-gateway/policy{{- end }}
{{- define "conference-gateway.tlsDir" -}}/etc/conference-gateway/tls{{- end }}
{{- define "conference-gateway.clientCADir" -}}/etc/conference-gateway/client-ca{{- end }}

{{/* Environment variables the chart sets; extraEnv may not repeat them. */}}
{{- define "conference-gateway.managedEnv" -}}
TELNYX_API_KEY TELNYX_PUBLIC_KEY TELNYX_BASE_URL TELNYX_TIMEOUT_SECS TELNYX_MAX_RETRIES
GATEWAY_GRPC_ADDR GATEWAY_HTTP_ADDR GATEWAY_LOG_FORMAT RUST_LOG GATEWAY_SHUTDOWN_GRACE_SECS
GATEWAY_WEBHOOK_TOLERANCE_SECS GATEWAY_ALLOW_UNAUTHENTICATED GATEWAY_AUTH_TOKENS_FILE
GATEWAY_AUTH_POLICY_FILE
GATEWAY_EVENT_DEDUPE_WINDOW_SECS GATEWAY_EVENT_DEDUPE_MAX_IDS GATEWAY_RECOVERY GATEWAY_RECOVERY_LOOKBACK_SECS
REDIS_URL GATEWAY_REDIS_PREFIX GATEWAY_TLS_CERT GATEWAY_TLS_KEY GATEWAY_TLS_CLIENT_CA
OTEL_EXPORTER_OTLP_ENDPOINT
{{- end }}

{{/*
Checks across values that the schema cannot express; each failure says what to
change. Included by the Deployment, so `helm template`, `helm lint` and
`helm install` all stop on them.
*/}}
{{- define "conference-gateway.validate" -}}
{{- $v := .Values }}
{{- $redis := include "conference-gateway.redisEnabled" . }}
{{- if $v.secret.existingSecret }}
  {{- if or $v.telnyx.apiKey $v.telnyx.publicKey $v.auth.tokens }}
    {{- fail "secret.existingSecret is set, so telnyx.apiKey, telnyx.publicKey and auth.tokens would be ignored: put them in the existing Secret and leave these values empty" }}
  {{- end }}
  {{- if and (not $v.secret.keys.authTokens) (not $v.auth.allowUnauthenticated) }}
    {{- fail "secret.keys.authTokens is empty, so callers would have no tokens: name the tokens key of secret.existingSecret, or set auth.allowUnauthenticated=true (development only)" }}
  {{- end }}
{{- else }}
  {{- if not $v.telnyx.apiKey }}
    {{- fail "telnyx.apiKey is required: set it (it goes into a Secret the chart creates) or set secret.existingSecret to a Secret holding it" }}
  {{- end }}
  {{- if not $v.telnyx.publicKey }}
    {{- fail "telnyx.publicKey is required (base64 Ed25519 key from the Telnyx portal; comma-separated during a rotation): set it, or set secret.existingSecret to a Secret holding it" }}
  {{- end }}
  {{- if and (not $v.auth.tokens) (not $v.auth.allowUnauthenticated) }}
    {{- fail "auth.tokens is empty, so no caller could authenticate: add tokens ([{name: ..., token: ...}]), use secret.existingSecret with a tokens key, or set auth.allowUnauthenticated=true (development only)" }}
  {{- end }}
  {{- $seen := list }}
  {{- range $v.auth.tokens }}
    {{- if has .token $seen }}
      {{- fail (printf "auth.tokens: the token of %q is also another entry's token: every token must be unique" .name) }}
    {{- end }}
    {{- $seen = append $seen .token }}
  {{- end }}
{{- end }}
{{- if and $v.redis.url $v.redis.existingSecret }}
  {{- fail "set redis.url or redis.existingSecret, not both" }}
{{- end }}
{{- if and $v.redis.sentinel.nodes (not $v.redis.sentinel.master) }}
  {{- fail "redis.sentinel.nodes is set but redis.sentinel.master is empty: name the master the Sentinels watch (sentinel monitor <name> ...)" }}
{{- end }}
{{- if and $v.redis.sentinel.master (not $v.redis.sentinel.nodes) }}
  {{- fail "redis.sentinel.master is set but redis.sentinel.nodes is empty: list the Sentinels as host:port" }}
{{- end }}
{{- if and $v.redis.sentinel.passwordSecret.name (not $v.redis.sentinel.nodes) }}
  {{- fail "redis.sentinel.passwordSecret is set but redis.sentinel.nodes is empty: the password is the Sentinels' own" }}
{{- end }}
{{- if and $v.redis.sentinel.username (not $v.redis.sentinel.passwordSecret.name) }}
  {{- fail "redis.sentinel.username is set without redis.sentinel.passwordSecret: an ACL user logs in with a password" }}
{{- end }}
{{- if and $v.redis.cluster (or $v.redis.sentinel.nodes $v.redis.sentinel.master) }}
  {{- fail "redis.cluster and redis.sentinel are both set: a Redis Cluster fails over by itself, so use one or the other (GATEWAY_REDIS_CLUSTER, GATEWAY_REDIS_SENTINELS)" }}
{{- end }}
{{- if and $v.redis.cluster (not $redis) }}
  {{- fail "redis.cluster needs redis.url or redis.existingSecret naming a node of the cluster" }}
{{- end }}
{{- if and $v.redis.sentinel.nodes (not $redis) }}
  {{- fail "redis.sentinel needs redis.url or redis.existingSecret (its password, database and TLS apply to the primary Sentinel names)" }}
{{- end }}
{{- if not $redis }}
  {{- if ne (int $v.replicaCount) 1 }}
    {{- fail (printf "replicaCount=%d needs Redis: without redis.url or redis.existingSecret each pod has its own in-process event bus, so only 1 replica is allowed" (int $v.replicaCount)) }}
  {{- end }}
  {{- if $v.autoscaling.enabled }}
    {{- fail "autoscaling.enabled needs Redis (redis.url or redis.existingSecret): the in-process event bus only works with a single replica" }}
  {{- end }}
{{- end }}
{{- if and $v.autoscaling.enabled (gt (int $v.autoscaling.minReplicas) (int $v.autoscaling.maxReplicas)) }}
  {{- fail "autoscaling.minReplicas must not exceed autoscaling.maxReplicas" }}
{{- end }}
{{- if and $v.autoscaling.enabled (not (or $v.autoscaling.targetCPUUtilizationPercentage $v.autoscaling.targetMemoryUtilizationPercentage)) }}
  {{- fail "autoscaling.enabled needs autoscaling.targetCPUUtilizationPercentage or autoscaling.targetMemoryUtilizationPercentage" }}
{{- end }}
{{- if $v.podDisruptionBudget.enabled }}
  {{- $pdb := $v.podDisruptionBudget }}
  {{- if and (kindIs "invalid" $pdb.minAvailable) (kindIs "invalid" $pdb.maxUnavailable) }}
    {{- fail "podDisruptionBudget.enabled needs maxUnavailable or minAvailable" }}
  {{- end }}
  {{- if not (kindIs "invalid" $pdb.minAvailable) }}
    {{- $least := ternary (int $v.autoscaling.minReplicas) (int $v.replicaCount) (eq $v.autoscaling.enabled true) }}
    {{- if le $least 1 }}
      {{- fail "podDisruptionBudget.minAvailable would block node drains with a single replica: use maxUnavailable: 1, or run more replicas (with Redis)" }}
    {{- end }}
    {{- if and (kindIs "float64" $pdb.minAvailable) (ge (int $pdb.minAvailable) $least) }}
      {{- fail (printf "podDisruptionBudget.minAvailable=%d would block node drains with %d replicas: it must be lower than the replica count" (int $pdb.minAvailable) $least) }}
    {{- end }}
    {{- if and (kindIs "int64" $pdb.minAvailable) (ge (int $pdb.minAvailable) $least) }}
      {{- fail (printf "podDisruptionBudget.minAvailable=%d would block node drains with %d replicas: it must be lower than the replica count" (int $pdb.minAvailable) $least) }}
    {{- end }}
  {{- end }}
{{- end }}
{{- if le (int $v.terminationGracePeriodSeconds) (int $v.gateway.shutdownGraceSecs) }}
  {{- fail (printf "terminationGracePeriodSeconds (%d) must be longer than gateway.shutdownGraceSecs (%d), or Kubernetes kills the gateway while it drains" (int $v.terminationGracePeriodSeconds) (int $v.gateway.shutdownGraceSecs)) }}
{{- end }}
{{- if and $v.tls.enabled (not $v.tls.secretName) }}
  {{- fail "tls.enabled needs tls.secretName (a Secret with the certificate and key, e.g. from cert-manager)" }}
{{- end }}
{{- if and $v.tls.clientCA.enabled (not $v.tls.enabled) }}
  {{- fail "tls.clientCA.enabled needs tls.enabled: client certificates are only checked on a TLS listener" }}
{{- end }}
{{- if lt (int $v.events.dedupeWindowSecs) (int $v.telnyx.webhookToleranceSecs) }}
  {{- fail (printf "events.dedupeWindowSecs (%d) is shorter than telnyx.webhookToleranceSecs (%d): a webhook replayed within the tolerance would be delivered twice, and the gateway refuses to start" (int $v.events.dedupeWindowSecs) (int $v.telnyx.webhookToleranceSecs)) }}
{{- end }}
{{- if eq (int $v.gateway.grpcPort) (int $v.gateway.httpPort) }}
  {{- fail "gateway.grpcPort and gateway.httpPort must differ" }}
{{- end }}
{{- $managed := splitList " " (include "conference-gateway.managedEnv" . | replace "\n" " ") }}
{{- range $v.extraEnv }}
  {{- if has .name $managed }}
    {{- fail (printf "extraEnv: %s is set by the chart; use the matching value instead (see the chart README)" .name) }}
  {{- end }}
{{- end }}
{{- end }}
