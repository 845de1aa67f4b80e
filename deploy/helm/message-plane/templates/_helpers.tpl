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

{{/* image of one component: its own image.repository/tag when set, else
image.repository + component and image.tag, else the appVersion (the tag
make images builds). (dict "root" $ "component" "rpc" "c" .Values.rpc) */}}
{{- define "mp.image" -}}
{{- $own := (default dict .c).image | default dict -}}
{{- $repo := $own.repository | default (printf "%s%s" .root.Values.image.repository .component) -}}
{{- $tag := $own.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}

{{- define "mp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "mp.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
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
serviceAccountName: {{ include "mp.serviceAccountName" $root }}
# The pods call no Kubernetes API: no token in them.
automountServiceAccountToken: false
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
      {{- if and .c.resources .c.resources.limits .c.resources.limits.memory }}
      # Go's soft memory limit is the container's: the GC works harder
      # before the kernel's OOM killer would end the process.
      - name: GOMEMLIMIT
        valueFrom:
          resourceFieldRef:
            containerName: {{ .component }}
            resource: limits.memory
      {{- end }}
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

{{/* metrics Service of one component: ClusterIP, the admin port only, so
/metrics is never exposed by a plugin-facing LoadBalancer or NodePort.
(dict "root" $ "component" "rpc" "adminPort" 48931) */}}
{{- define "mp.metricsService" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "mp.fullname" .root }}-{{ .component }}-metrics
  labels:
    {{- include "mp.labels" . | nindent 4 }}
    messageplane.io/metrics: "true"
spec:
  type: ClusterIP
  selector:
    {{- include "mp.selectorLabels" . | nindent 4 }}
  ports:
    - name: metrics
      port: {{ .adminPort }}
      targetPort: admin
{{- end -}}

{{/* label selector of this release's edge pods (rpc, pub, ingest) */}}
{{- define "mp.edgeSelector" -}}
matchLabels:
  app.kubernetes.io/name: {{ include "mp.name" . }}
  app.kubernetes.io/instance: {{ .Release.Name }}
matchExpressions:
  - key: app.kubernetes.io/component
    operator: In
    values: [rpc, pub, ingest]
{{- end -}}
