package deploy

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	netpols      map[string]*networkingv1.NetworkPolicy
	accounts     map[string]*corev1.ServiceAccount
	configmaps   map[string]*corev1.ConfigMap
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
	// A cluster the chart's kubeVersion admits (the SDK's default is older).
	install.KubeVersion = &chartutil.KubeVersion{Version: "v1.30.0", Major: "1", Minor: "30"}
	rel, err := install.Run(ch, vals)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	r := &rendered{deployments: map[string]*appsv1.Deployment{}, statefulsets: map[string]*appsv1.StatefulSet{},
		services: map[string]*corev1.Service{}, pdbs: map[string]*policyv1.PodDisruptionBudget{},
		hpas: map[string]*autoscalingv2.HorizontalPodAutoscaler{}, pods: map[string]*corev1.Pod{}, other: map[string]map[string]any{},
		netpols: map[string]*networkingv1.NetworkPolicy{}, accounts: map[string]*corev1.ServiceAccount{}, configmaps: map[string]*corev1.ConfigMap{},
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
			put(r.deployments, name, decode)
		case "StatefulSet":
			put(r.statefulsets, name, decode)
		case "Service":
			put(r.services, name, decode)
		case "PodDisruptionBudget":
			put(r.pdbs, name, decode)
		case "HorizontalPodAutoscaler":
			put(r.hpas, name, decode)
		case "Pod":
			put(r.pods, name, decode)
		case "NetworkPolicy":
			put(r.netpols, name, decode)
		case "ServiceAccount":
			put(r.accounts, name, decode)
		case "ConfigMap":
			put(r.configmaps, name, decode)
		default:
			m := map[string]any{}
			decode(&m)
			r.other[meta.Kind+"/"+name] = m
		}
	}
	return r
}

// put decodes one object into a map of its kind.
func put[T any](m map[string]*T, name string, decode func(into any)) {
	v := new(T)
	decode(v)
	m[name] = v
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
	// Its own ServiceAccount, and no API token in the pod.
	if spec.ServiceAccountName != "mp-message-plane" || spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("%s: service account %q, automount %v", name, spec.ServiceAccountName, spec.AutomountServiceAccountToken)
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
	if len(r.pdbs) != 0 || len(r.hpas) != 0 || len(r.configmaps) != 0 || len(r.other) != 0 {
		t.Errorf("defaults rendered optional objects: pdbs %d hpas %d configmaps %d other %v", len(r.pdbs), len(r.hpas), len(r.configmaps), keys(r.other))
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

// The default tag is the one make images builds: a first install pulls
// images that exist.
func TestChartDefaultImagesAreWhatMakeBuilds(t *testing.T) {
	out, err := exec.Command("make", "-s", "-C", repo, "image-tag").Output()
	if err != nil {
		t.Fatalf("make image-tag: %v", err)
	}
	tag := strings.TrimSpace(string(out))
	if tag == "" || tag == "dev" {
		t.Fatalf("make images tags %q; want a release version", tag)
	}
	r := render(t, nil)
	images := map[string]string{}
	for name, d := range r.deployments {
		images[name] = d.Spec.Template.Spec.Containers[0].Image
	}
	for name, s := range r.statefulsets {
		images[name] = s.Spec.Template.Spec.Containers[0].Image
	}
	for name, p := range r.pods {
		images[name] = p.Spec.Containers[0].Image
	}
	if len(images) != 5 {
		t.Fatalf("images: %v", images)
	}
	for name, image := range images {
		component := strings.TrimPrefix(strings.TrimPrefix(name, "mp-message-plane-"), "test-rpc")
		if component == "" {
			component = "tools"
		}
		if want := "messageplane/mp-" + component + ":" + tag; image != want {
			t.Errorf("%s runs %s, want %s (make images builds that)", name, image, want)
		}
	}
}

// Only the edges reach the store's gRPC port; the edges admit their ZMQ
// port (from anyone by default, from the configured peers and the test pod
// otherwise) and the admin port.
func TestChartNetworkPolicy(t *testing.T) {
	r := render(t, nil)
	if len(r.netpols) != 2 {
		t.Fatalf("network policies: %v", keys(r.netpols))
	}
	store := r.netpols["mp-message-plane-store"]
	sts := r.statefulsets["mp-message-plane-store"]
	if store == nil || !selects(store.Spec.PodSelector, sts.Spec.Template.Labels) {
		t.Fatalf("store policy does not select the store: %+v", store)
	}
	grpcFrom := ruleFor(t, store, "grpc")
	if len(grpcFrom) != 1 || grpcFrom[0].PodSelector == nil || grpcFrom[0].NamespaceSelector != nil || grpcFrom[0].IPBlock != nil {
		t.Fatalf("store gRPC admits %+v, want the edges' pods only", grpcFrom)
	}
	for name, d := range r.deployments {
		if !selects(*grpcFrom[0].PodSelector, d.Spec.Template.Labels) {
			t.Errorf("%s cannot reach the store", name)
		}
	}
	if selects(*grpcFrom[0].PodSelector, sts.Spec.Template.Labels) || selects(*grpcFrom[0].PodSelector, r.pods["mp-message-plane-test-rpc"].Labels) {
		t.Error("the store's gRPC port admits more than the edges")
	}
	if from := ruleFor(t, store, "admin"); from != nil {
		t.Errorf("store admin port restricted by default: %+v", from)
	}
	edges := r.netpols["mp-message-plane-edges"]
	for name, d := range r.deployments {
		if edges == nil || !selects(edges.Spec.PodSelector, d.Spec.Template.Labels) {
			t.Fatalf("edge policy does not select %s", name)
		}
	}
	if from := ruleFor(t, edges, "zmq"); from != nil {
		t.Errorf("ZMQ ports restricted by default: %+v", from)
	}

	plugins := map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "plugins"}}}
	monitoring := map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "monitoring"}}}
	r = render(t, map[string]any{"networkPolicy": map[string]any{"zmqFrom": []any{plugins}, "metricsFrom": []any{monitoring}}})
	zmq := ruleFor(t, r.netpols["mp-message-plane-edges"], "zmq")
	if len(zmq) != 2 || zmq[0].NamespaceSelector == nil || zmq[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "plugins" ||
		zmq[1].PodSelector == nil || !selects(*zmq[1].PodSelector, r.pods["mp-message-plane-test-rpc"].Labels) {
		t.Errorf("ZMQ peers %+v, want plugins' namespace and the helm test pod", zmq)
	}
	for _, np := range r.netpols {
		if admin := ruleFor(t, np, "admin"); len(admin) != 1 || admin[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "monitoring" {
			t.Errorf("%s admin peers %+v", np.Name, admin)
		}
	}
	if r = render(t, map[string]any{"networkPolicy": map[string]any{"enabled": false}}); len(r.netpols) != 0 {
		t.Errorf("networkPolicy.enabled=false rendered %v", keys(r.netpols))
	}
}

func selects(sel metav1.LabelSelector, set map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(&sel)
	return err == nil && !s.Empty() && s.Matches(labels.Set(set))
}

// ruleFor returns the peers of the ingress rule for a named port (nil: any source).
func ruleFor(t *testing.T, np *networkingv1.NetworkPolicy, port string) []networkingv1.NetworkPolicyPeer {
	t.Helper()
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			if p.Port != nil && p.Port.String() == port {
				return rule.From
			}
		}
	}
	t.Fatalf("%s has no rule for port %s", np.Name, port)
	return nil
}

func TestChartServiceAccount(t *testing.T) {
	r := render(t, nil)
	sa := r.accounts["mp-message-plane"]
	if sa == nil || sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Fatalf("service account: %+v", sa)
	}
	if p := r.pods["mp-message-plane-test-rpc"].Spec; p.AutomountServiceAccountToken == nil || *p.AutomountServiceAccountToken {
		t.Error("the test pod mounts an API token")
	}
	r = render(t, map[string]any{"serviceAccount": map[string]any{"create": false, "name": "existing"}})
	if len(r.accounts) != 0 || r.deployments["mp-message-plane-rpc"].Spec.Template.Spec.ServiceAccountName != "existing" {
		t.Errorf("serviceAccount.create=false: %v", keys(r.accounts))
	}
}

// /metrics has its own ClusterIP Service per component, and the Services
// plugins use carry their ZMQ (or gRPC) port only, so a LoadBalancer never
// exposes metrics.
func TestChartMetricsPort(t *testing.T) {
	r := render(t, map[string]any{"rpc": map[string]any{"service": map[string]any{"type": "LoadBalancer"}}})
	for _, c := range []struct{ component, port string }{{"rpc", "zmq"}, {"pub", "zmq"}, {"ingest", "zmq"}, {"store", "grpc"}} {
		svc := r.services["mp-message-plane-"+c.component]
		if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != c.port {
			t.Errorf("%s Service ports %+v, want %s only", c.component, svc.Spec.Ports, c.port)
		}
		m := r.services["mp-message-plane-"+c.component+"-metrics"]
		if m == nil || m.Spec.Type != corev1.ServiceTypeClusterIP || len(m.Spec.Ports) != 1 || m.Spec.Ports[0].Name != "metrics" || m.Spec.Ports[0].TargetPort.String() != "admin" {
			t.Errorf("%s metrics Service: %+v", c.component, m)
		}
	}
	if r.services["mp-message-plane-rpc"].Spec.Type != corev1.ServiceTypeLoadBalancer {
		t.Error("rpc Service is not the LoadBalancer")
	}
	checkServices(t, r)
}

// GOMEMLIMIT is each container's memory limit, read through the downward API.
func TestChartGoMemLimit(t *testing.T) {
	r := render(t, nil)
	specs := map[string]corev1.PodSpec{"store": r.statefulsets["mp-message-plane-store"].Spec.Template.Spec}
	for _, e := range []string{"rpc", "pub", "ingest"} {
		specs[e] = r.deployments["mp-message-plane-"+e].Spec.Template.Spec
	}
	for name, spec := range specs {
		c := spec.Containers[0]
		var ref *corev1.ResourceFieldSelector
		for _, e := range c.Env {
			if e.Name == "GOMEMLIMIT" && e.ValueFrom != nil {
				ref = e.ValueFrom.ResourceFieldRef
			}
		}
		if ref == nil || ref.Resource != "limits.memory" || ref.ContainerName != c.Name || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s: GOMEMLIMIT from %+v, limit %v", name, ref, c.Resources.Limits.Memory())
		}
	}
}

func TestChartCustomValues(t *testing.T) {
	r := render(t, map[string]any{
		"image":  map[string]any{"repository": "registry.local/mp-", "tag": "1.2.3"},
		"rpc":    map[string]any{"replicaCount": 3, "service": map[string]any{"type": "LoadBalancer"}},
		"pub":    map[string]any{"service": map[string]any{"type": "NodePort", "nodePort": 30914}, "image": map[string]any{"tag": "1.2.4"}},
		"store":  map[string]any{"image": map[string]any{"repository": "mirror.local/store", "tag": "patched"}},
		"ingest": map[string]any{"autoscaling": map[string]any{"enabled": true, "maxReplicas": 8}},
		"metrics": map[string]any{
			"podAnnotations":   false,
			"serviceMonitor":   map[string]any{"enabled": true, "labels": map[string]any{"release": "prom"}},
			"prometheusRule":   map[string]any{"enabled": true, "labels": map[string]any{"release": "prom"}},
			"grafanaDashboard": map[string]any{"enabled": true},
		},
		"extraEnv": []any{map[string]any{"name": "MP_PPROF", "value": "true"}},
		"limits":   map[string]any{"validateMode": "warn"},
	})
	rpc := r.deployments["mp-message-plane-rpc"]
	if *rpc.Spec.Replicas != 3 || rpc.Spec.Template.Spec.Containers[0].Image != "registry.local/mp-rpc:1.2.3" {
		t.Errorf("rpc: replicas %d image %s", *rpc.Spec.Replicas, rpc.Spec.Template.Spec.Containers[0].Image)
	}
	for name, want := range map[string]string{"pub": "registry.local/mp-pub:1.2.4", "ingest": "registry.local/mp-ingest:1.2.3"} {
		if got := r.deployments["mp-message-plane-"+name].Spec.Template.Spec.Containers[0].Image; got != want {
			t.Errorf("%s image %s, want %s", name, got, want)
		}
	}
	if got := r.statefulsets["mp-message-plane-store"].Spec.Template.Spec.Containers[0].Image; got != "mirror.local/store:patched" {
		t.Errorf("store image override: %s", got)
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
	sm, ok := r.other["ServiceMonitor/mp-message-plane"]
	if !ok {
		t.Fatalf("no ServiceMonitor: %v", keys(r.other))
	}
	if got := dig(sm, "metadata", "labels", "release"); got != "prom" {
		t.Errorf("ServiceMonitor label release=%v", got)
	}
	if got := dig(sm, "spec", "endpoints", 0, "port"); got != "metrics" {
		t.Errorf("ServiceMonitor scrapes port %v", got)
	}
	// It selects the metrics Services, and only those.
	smSel := map[string]string{}
	for k, v := range dig(sm, "spec", "selector", "matchLabels").(map[string]any) {
		smSel[k] = v.(string)
	}
	for name, svc := range r.services {
		if got, want := labels.SelectorFromSet(smSel).Matches(labels.Set(svc.Labels)), strings.HasSuffix(name, "-metrics"); got != want {
			t.Errorf("ServiceMonitor selects %s: %v", name, got)
		}
	}
	rule, ok := r.other["PrometheusRule/mp-message-plane"]
	if !ok || dig(rule, "metadata", "labels", "release") != "prom" {
		t.Fatalf("PrometheusRule: %v", rule)
	}
	alerts := map[string]string{}
	for _, ru := range dig(rule, "spec", "groups", 0, "rules").([]any) {
		ru := ru.(map[string]any)
		alerts[ru["alert"].(string)] = ru["expr"].(string)
	}
	for _, want := range []string{"MessagePlaneIngestStoreErrors", "MessagePlaneIngestDropping", "MessagePlanePubLagging", "MessagePlanePubStalled", "MessagePlaneStoreUnreachable", "MessagePlaneMemoryNearLimit"} {
		if !strings.Contains(alerts[want], `namespace="plugins"`) {
			t.Errorf("alert %s: %q", want, alerts[want])
		}
	}
	dash := r.configmaps["mp-message-plane-dashboard"]
	file, err := os.ReadFile(filepath.Join(repo, "deploy", "grafana", "message-plane.json"))
	if err != nil {
		t.Fatal(err)
	}
	if dash == nil || dash.Labels["grafana_dashboard"] != "1" || strings.TrimSpace(dash.Data["message-plane.json"]) != strings.TrimSpace(string(file)) {
		t.Errorf("dashboard ConfigMap: labels %v, %d bytes of data", dash.Labels, len(dash.Data["message-plane.json"]))
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

// dig walks decoded YAML by map keys and list indexes.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
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
		// Unknown keys, at the top and deep down: a typo must not pass silently.
		{"replicaCount": 3},
		{"rpc": map[string]any{"replicas": 3}},
		{"store": map[string]any{"service": map[string]any{"prot": 1}}},
		{"metrics": map[string]any{"serviceMonitor": map[string]any{"enable": true}}},
		{"networkPolicy": map[string]any{"zmqfrom": []any{}}},
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

// Every object the schema describes refuses keys it does not list.
func TestChartSchemaIsStrict(t *testing.T) {
	var schema map[string]any
	readChartFile(t, "values.schema.json", &schema)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if _, ok := v["properties"]; ok && v["additionalProperties"] != false {
				t.Errorf("schema %s lists properties but admits others", path)
			}
			for k, c := range v {
				walk(path+"/"+k, c)
			}
		case []any:
			for i, c := range v {
				walk(fmt.Sprintf("%s/%d", path, i), c)
			}
		}
	}
	walk("#", schema)
}

// readChartFile decodes one of the chart's YAML or JSON files.
func readChartFile(t *testing.T, name string, into any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chartDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// The chart's README documents every key of values.yaml and no other.
func TestChartReadmeDocumentsEveryValue(t *testing.T) {
	var vals map[string]any
	readChartFile(t, "values.yaml", &vals)
	want := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if m, ok := v.(map[string]any); ok && len(m) > 0 {
			for k, c := range m {
				walk(strings.TrimPrefix(prefix+"."+k, "."), c)
			}
			return
		}
		want[prefix] = true
	}
	walk("", vals)
	readme, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([^`]+)` \\|").FindAllStringSubmatch(string(readme), -1) {
		documented[m[1]] = true
	}
	for k := range want {
		if !documented[k] {
			t.Errorf("values.yaml key %s is not in the README's table", k)
		}
	}
	for k := range documented {
		if !want[k] {
			t.Errorf("the README documents %s, which values.yaml does not have", k)
		}
	}
}

// The chart's appVersion is the file VERSION; the chart says which
// Kubernetes it needs.
func TestChartVersion(t *testing.T) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	v, err := os.ReadFile(filepath.Join(repo, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	if ch.Metadata.AppVersion != strings.TrimSpace(string(v)) {
		t.Errorf("appVersion %q, VERSION %q", ch.Metadata.AppVersion, strings.TrimSpace(string(v)))
	}
	if ch.Metadata.KubeVersion == "" {
		t.Error("no kubeVersion")
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
