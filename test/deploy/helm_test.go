package deploy

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

var chartDir = filepath.Join(repo, "deploy", "helm", "message-plane")

// rendered is a chart rendered and decoded into API types.
type rendered struct {
	deployments  map[string]*appsv1.Deployment
	statefulsets map[string]*appsv1.StatefulSet
	services     map[string]*corev1.Service
	pdbs         map[string]*policyv1.PodDisruptionBudget
	hpas         map[string]*autoscalingv2.HorizontalPodAutoscaler
	pods         map[string]*corev1.Pod // helm test hooks
	other        map[string]map[string]any
	notes        string
}

func render(t *testing.T, vals map[string]any) *rendered {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	install := action.NewInstall(&action.Configuration{})
	install.DryRun, install.ClientOnly, install.Replace = true, true, true
	install.ReleaseName, install.Namespace = "mp", "plugins"
	rel, err := install.Run(ch, vals)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	r := &rendered{deployments: map[string]*appsv1.Deployment{}, statefulsets: map[string]*appsv1.StatefulSet{},
		services: map[string]*corev1.Service{}, pdbs: map[string]*policyv1.PodDisruptionBudget{},
		hpas: map[string]*autoscalingv2.HorizontalPodAutoscaler{}, pods: map[string]*corev1.Pod{}, other: map[string]map[string]any{},
		notes: rel.Info.Notes}
	manifests := rel.Manifest
	for _, h := range rel.Hooks {
		manifests += "\n---\n" + h.Manifest
	}
	for _, doc := range strings.Split(manifests, "\n---") {
		if strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(doc), "---")) == "" || isComment(doc) {
			continue
		}
		var meta struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("document does not parse: %v\n%s", err, doc)
		}
		name := meta.Metadata.Name
		// Strict decoding: a field the API type does not have is an error.
		decode := func(into any) {
			if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
				t.Errorf("%s %s does not decode strictly: %v\n%s", meta.Kind, name, err, doc)
			}
		}
		switch meta.Kind {
		case "Deployment":
			r.deployments[name] = &appsv1.Deployment{}
			decode(r.deployments[name])
		case "StatefulSet":
			r.statefulsets[name] = &appsv1.StatefulSet{}
			decode(r.statefulsets[name])
		case "Service":
			r.services[name] = &corev1.Service{}
			decode(r.services[name])
		case "PodDisruptionBudget":
			r.pdbs[name] = &policyv1.PodDisruptionBudget{}
			decode(r.pdbs[name])
		case "HorizontalPodAutoscaler":
			r.hpas[name] = &autoscalingv2.HorizontalPodAutoscaler{}
			decode(r.hpas[name])
		case "Pod":
			r.pods[name] = &corev1.Pod{}
			decode(r.pods[name])
		default:
			m := map[string]any{}
			decode(&m)
			r.other[meta.Kind+"/"+name] = m
		}
	}
	return r
}

func isComment(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && line != "---" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}

// checkPods: probes use ports the container declares, the pod is non-root
// with a read-only root filesystem, and listeners bind every interface.
func checkPod(t *testing.T, name string, spec corev1.PodSpec) {
	t.Helper()
	if spec.SecurityContext == nil || spec.SecurityContext.RunAsNonRoot == nil || !*spec.SecurityContext.RunAsNonRoot {
		t.Errorf("%s: pod may run as root", name)
	}
	for _, c := range spec.Containers {
		ports := map[string]bool{}
		for _, p := range c.Ports {
			ports[p.Name] = true
		}
		for what, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
			if p == nil || p.HTTPGet == nil {
				t.Errorf("%s: no HTTP %s probe", name, what)
				continue
			}
			if !ports[p.HTTPGet.Port.String()] {
				t.Errorf("%s: %s probe port %s is not a container port", name, what, p.HTTPGet.Port.String())
			}
		}
		if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
			t.Errorf("%s: root filesystem is writable", name)
		}
		for _, e := range c.Env {
			if strings.HasSuffix(e.Name, "_ENDPOINT") || e.Name == "MP_HTTP_ADDR" || e.Name == "MP_STORE_LISTEN" {
				if !strings.Contains(e.Value, "0.0.0.0") {
					t.Errorf("%s: %s=%s does not bind every interface", name, e.Name, e.Value)
				}
			}
			if e.Name == "MP_STORE_ADDR" && e.Value != "mp-message-plane-store:48920" {
				t.Errorf("%s: MP_STORE_ADDR=%s, want the store Service", name, e.Value)
			}
		}
	}
}

// checkServices: every Service selects the pods of one workload and targets
// ports those pods declare.
func checkServices(t *testing.T, r *rendered) {
	t.Helper()
	type workload struct {
		labels map[string]string
		ports  map[string]bool
	}
	var workloads []workload
	add := func(tpl corev1.PodTemplateSpec) {
		w := workload{labels: tpl.Labels, ports: map[string]bool{}}
		for _, c := range tpl.Spec.Containers {
			for _, p := range c.Ports {
				w.ports[p.Name] = true
			}
		}
		workloads = append(workloads, w)
	}
	for name, d := range r.deployments {
		if !labels.SelectorFromSet(d.Spec.Selector.MatchLabels).Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("deployment %s: selector does not match its pod labels", name)
		}
		checkPod(t, name, d.Spec.Template.Spec)
		add(d.Spec.Template)
	}
	for name, s := range r.statefulsets {
		if !labels.SelectorFromSet(s.Spec.Selector.MatchLabels).Matches(labels.Set(s.Spec.Template.Labels)) {
			t.Errorf("statefulset %s: selector does not match its pod labels", name)
		}
		checkPod(t, name, s.Spec.Template.Spec)
		add(s.Spec.Template)
	}
	for name, svc := range r.services {
		matched := 0
		for _, w := range workloads {
			if labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(w.labels)) {
				matched++
				for _, p := range svc.Spec.Ports {
					if !w.ports[p.TargetPort.String()] {
						t.Errorf("service %s: target port %s not declared by its pods", name, p.TargetPort.String())
					}
				}
			}
		}
		if matched != 1 {
			t.Errorf("service %s selects %d workloads, want 1", name, matched)
		}
	}
	for name := range r.pdbs {
		if _, ok := r.deployments[name]; !ok {
			t.Errorf("pdb %s has no deployment of its name", name)
		}
	}
}

func TestChartDefaults(t *testing.T) {
	r := render(t, nil)
	for _, d := range []string{"mp-message-plane-rpc", "mp-message-plane-pub", "mp-message-plane-ingest"} {
		if r.deployments[d] == nil {
			t.Fatalf("deployment %s missing", d)
		}
		if r.services[d] == nil || r.services[d].Spec.Type != corev1.ServiceTypeClusterIP {
			t.Errorf("service %s: %+v", d, r.services[d])
		}
	}
	if s := r.statefulsets["mp-message-plane-store"]; s == nil || *s.Spec.Replicas != 1 {
		t.Fatalf("store statefulset: %+v", s)
	}
	if len(r.pdbs) != 0 || len(r.hpas) != 0 || len(r.other) != 0 {
		t.Errorf("defaults rendered optional objects: pdbs %d hpas %d other %v", len(r.pdbs), len(r.hpas), r.other)
	}
	if r.pods["mp-message-plane-test-rpc"] == nil {
		t.Error("no helm test pod")
	}
	for _, want := range []string{"tcp://mp-message-plane-rpc.plugins.svc:48913", "tcp://mp-message-plane-pub.plugins.svc:48914", "tcp://mp-message-plane-ingest.plugins.svc:48915"} {
		if !strings.Contains(r.notes, want) {
			t.Errorf("NOTES.txt lacks %s", want)
		}
	}
	checkServices(t, r)
}

func TestChartCustomValues(t *testing.T) {
	r := render(t, map[string]any{
		"image":    map[string]any{"repository": "registry.local/mp-", "tag": "1.2.3"},
		"rpc":      map[string]any{"replicaCount": 3, "service": map[string]any{"type": "LoadBalancer"}},
		"pub":      map[string]any{"service": map[string]any{"type": "NodePort", "nodePort": 30914}},
		"ingest":   map[string]any{"autoscaling": map[string]any{"enabled": true, "maxReplicas": 8}},
		"metrics":  map[string]any{"podAnnotations": false, "serviceMonitor": map[string]any{"enabled": true}},
		"extraEnv": []any{map[string]any{"name": "MP_PPROF", "value": "true"}},
		"limits":   map[string]any{"validateMode": "warn"},
	})
	rpc := r.deployments["mp-message-plane-rpc"]
	if *rpc.Spec.Replicas != 3 || rpc.Spec.Template.Spec.Containers[0].Image != "registry.local/mp-rpc:1.2.3" {
		t.Errorf("rpc: replicas %d image %s", *rpc.Spec.Replicas, rpc.Spec.Template.Spec.Containers[0].Image)
	}
	if r.services["mp-message-plane-rpc"].Spec.Type != corev1.ServiceTypeLoadBalancer {
		t.Error("rpc service type")
	}
	if p := r.services["mp-message-plane-pub"].Spec.Ports[0]; p.NodePort != 30914 {
		t.Errorf("pub nodePort %d", p.NodePort)
	}
	if r.pdbs["mp-message-plane-rpc"] == nil || r.pdbs["mp-message-plane-ingest"] == nil || r.pdbs["mp-message-plane-pub"] != nil {
		t.Errorf("pdbs: %v", keys(r.pdbs))
	}
	h := r.hpas["mp-message-plane-ingest"]
	if h == nil || h.Spec.MaxReplicas != 8 || r.deployments["mp-message-plane-ingest"].Spec.Replicas != nil {
		t.Errorf("ingest autoscaling: %+v", h)
	}
	if _, ok := r.other["ServiceMonitor/mp-message-plane"]; !ok {
		t.Errorf("no ServiceMonitor: %v", keys(r.other))
	}
	if a := rpc.Spec.Template.Annotations; a["prometheus.io/scrape"] != "" {
		t.Errorf("scrape annotations with podAnnotations=false: %v", a)
	}
	env := map[string]string{}
	for _, e := range rpc.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	if env["MP_PPROF"] != "true" || env["MP_VALIDATE_MODE"] != "warn" {
		t.Errorf("rpc env %v", env)
	}
	checkServices(t, r)
}

func TestChartSchemaRejectsBadValues(t *testing.T) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []map[string]any{
		{"rpc": map[string]any{"service": map[string]any{"type": "Ingress"}}},
		{"limits": map[string]any{"validateMode": "loose"}},
		{"ingest": map[string]any{"replicaCount": "three"}},
	} {
		vals, err := chartutil.ToRenderValues(ch, bad, chartutil.ReleaseOptions{Name: "mp", Namespace: "x"}, nil)
		if err == nil {
			err = chartutil.ValidateAgainstSchema(ch, vals["Values"].(chartutil.Values))
		}
		if err == nil {
			t.Errorf("values %v accepted", bad)
		}
	}
}

func TestChartLint(t *testing.T) {
	l := lint.AllWithKubeVersion(chartDir, nil, "plugins", nil)
	var b bytes.Buffer
	for _, m := range l.Messages {
		if m.Severity >= support.WarningSev {
			fmt.Fprintln(&b, m.Error())
		}
	}
	if b.Len() > 0 {
		t.Errorf("helm lint:\n%s", b.String())
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
