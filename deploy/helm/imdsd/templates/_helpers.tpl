{{- define "imdsd.labels" -}}
app.kubernetes.io/name: imdsd
{{- end -}}

{{/* The config file: .Values.config with the values that name its keys. */}}
{{- define "imdsd.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- $k := deepCopy (get $cfg "kubernetes" | default dict) -}}
{{- $_ := set $k "enabled" true -}}
{{- $_ := set $k "interfaces" .Values.interfaces -}}
{{- if .Values.baseRoleArn }}{{ $_ := set $k "base_role_arn" .Values.baseRoleArn }}{{ end -}}
{{- $_ := set $cfg "kubernetes" $k -}}
{{- $_ := set $cfg "metrics_listen" (printf "127.0.0.1:%d" (int .Values.metricsPort)) -}}
{{- toYaml $cfg -}}
{{- end -}}
