{{/* Names and labels shared by every template. */}}
{{- define "mp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "mp.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "mp.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "mp.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* selector labels of one component: (dict "root" $ "component" "rpc") */}}
{{- define "mp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mp.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "mp.labels" -}}
{{ include "mp.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "mp.image" -}}
{{- printf "%s%s:%s" .root.Values.image.repository .component (default .root.Chart.AppVersion .root.Values.image.tag) -}}
{{- end -}}

{{- define "mp.storeAddr" -}}
{{- printf "%s-store:%v" (include "mp.fullname" .) .Values.store.service.port -}}
{{- end -}}

{{/* pod template parts shared by the store and the edges: (dict "root" $ "component" "rpc" "c" .Values.rpc "adminPort" 48931 "ports" (list ...) "env" (list ...)) */}}
{{- define "mp.podSpec" -}}
{{- $root := .root -}}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
terminationGracePeriodSeconds: {{ $root.Values.terminationGracePeriodSeconds }}
containers:
  - name: {{ .component }}
    image: {{ include "mp.image" . }}
    imagePullPolicy: {{ $root.Values.image.pullPolicy }}
    securityContext:
      {{- toYaml $root.Values.securityContext | nindent 6 }}
    env:
      - name: MP_LOG_LEVEL
        value: {{ $root.Values.logLevel | quote }}
      - name: MP_LOG_FORMAT
        value: json
      - name: MP_HTTP_ADDR
        value: {{ printf "0.0.0.0:%v" .adminPort | quote }}
      {{- range .env }}
      - name: {{ .name }}
        value: {{ .value | quote }}
      {{- end }}
      {{- with $root.Values.extraEnv }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
      {{- with .c.extraEnv }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    ports:
      {{- range .ports }}
      - name: {{ .name }}
        containerPort: {{ .port }}
        protocol: TCP
      {{- end }}
      - name: admin
        containerPort: {{ .adminPort }}
        protocol: TCP
    livenessProbe:
      httpGet:
        path: /healthz
        port: admin
      {{- toYaml $root.Values.probes.liveness | nindent 6 }}
    readinessProbe:
      httpGet:
        path: /readyz
        port: admin
      {{- toYaml $root.Values.probes.readiness | nindent 6 }}
    resources:
      {{- toYaml .c.resources | nindent 6 }}
{{- with .c.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .c.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .c.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "mp.podAnnotations" -}}
{{- if .root.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .adminPort | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end -}}
