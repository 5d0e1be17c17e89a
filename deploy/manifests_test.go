// Package deploy holds the Kubernetes deployment of the node agent
// (kubernetes/: plain manifests; helm/imdsd: the chart) and the tests that
// keep them right: the chart renders the manifests, the RBAC is exactly
// what the agent needs, and a real kube-apiserver accepts every object.
package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// Paths, relative to this package's folder.
const (
	manifestsDir = "kubernetes"
	chartDir     = "helm/imdsd"
	helmModFile  = "../scripts/k8s/helm/go.mod"
	helmBuild    = "scripts/k8s/helm.sh"
	// configKey is the ConfigMap's key holding imdsd's config file.
	configKey = "imdsd.yaml"
	// configHashAnnotation is the chart's pod-template annotation that rolls
	// the agents on a config change; the plain manifests have none (there
	// is no templating to compute it), so the comparison leaves it out.
	configHashAnnotation = "imdsd.io/config-hash"
)

// object is one Kubernetes object as parsed YAML.
type object map[string]any

func (o object) id() string {
	md, _ := o["metadata"].(map[string]any)
	ns, _ := md["namespace"].(string)
	name, _ := md["name"].(string)
	return fmt.Sprintf("%v %s/%s", o["kind"], ns, name)
}

// decodeAll parses a YAML stream into its objects, skipping empty
// documents, with a ConfigMap's config file parsed too (so that key order
// and list style do not count).
func decodeAll(r io.Reader, src string) ([]object, error) {
	dec := yaml.NewDecoder(r)
	var out []object
	for {
		var m map[string]any
		err := dec.Decode(&m)
		o := object(m)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		if o == nil {
			continue
		}
		if o["kind"] == "ConfigMap" {
			data, _ := o["data"].(map[string]any)
			if s, ok := data[configKey].(string); ok {
				var cfg any
				if err := yaml.Unmarshal([]byte(s), &cfg); err != nil {
					return nil, fmt.Errorf("%s: %s's %s: %w", src, o.id(), configKey, err)
				}
				data[configKey] = cfg
			}
		}
		out = append(out, o)
	}
}

// manifests returns the objects of deploy/kubernetes/*.yaml.
func manifests(t *testing.T) []object {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(manifestsDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", manifestsDir, err)
	}
	var out []object
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := decodeAll(bytes.NewReader(b), f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, objs...)
	}
	return out
}

// helmBinary is the helm scripts/k8s/helm.sh builds, or a failure saying to
// run it.
func helmBinary(t *testing.T) string {
	t.Helper()
	mod, err := os.ReadFile(helmModFile)
	if err != nil {
		t.Fatal(err)
	}
	var version string
	for line := range strings.Lines(string(mod)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "helm.sh/helm/v4" {
			version = f[1]
		}
	}
	if version == "" {
		t.Fatalf("%s names no helm.sh/helm/v4 version", helmModFile)
	}
	cache := os.Getenv("IMDSD_K8S_CACHE")
	if cache == "" {
		cache = "/var/cache/imdsd/k8s"
	}
	bin := filepath.Join(cache, "helm-"+version, "helm")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("helm %s is not built (%v): run %s (builds it once into %s, about 6 min cold)", version, err, helmBuild, filepath.Dir(bin))
	}
	return bin
}

// helmTemplate renders the chart as `helm template imdsd --namespace imdsd`
// with extra arguments.
func helmTemplate(t *testing.T, args ...string) []object {
	t.Helper()
	cmd := exec.Command(helmBinary(t), append([]string{"template", "imdsd", chartDir, "--namespace", "imdsd"}, args...)...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, stderr.String())
	}
	objs, err := decodeAll(bytes.NewReader(out), "helm template")
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func byID(objs []object) map[string]object {
	m := make(map[string]object, len(objs))
	for _, o := range objs {
		m[o.id()] = o
	}
	return m
}

// TestHelmTemplate_MatchesManifests: the chart with its default values
// renders the same objects, with the same fields, as the plain manifests,
// so the two never drift.
func TestHelmTemplate_MatchesManifests(t *testing.T) {
	plain := byID(manifests(t))
	chart := byID(helmTemplate(t))
	for id, o := range chart {
		if o["kind"] != "DaemonSet" {
			continue
		}
		md := o["spec"].(map[string]any)["template"].(map[string]any)["metadata"].(map[string]any)
		ann, _ := md["annotations"].(map[string]any)
		if _, ok := ann[configHashAnnotation]; !ok {
			t.Errorf("%s: no %s annotation (a config change would not roll the agents)", id, configHashAnnotation)
		}
		delete(ann, configHashAnnotation)
		if len(ann) == 0 {
			delete(md, "annotations")
		}
	}
	if diff := cmp.Diff(plain, chart); diff != "" {
		t.Errorf("helm template differs from %s/*.yaml (-plain +chart):\n%s", manifestsDir, diff)
	}
	if len(plain) != 6 {
		t.Errorf("got %d objects, want 6 (Namespace, ServiceAccount, ClusterRole, ClusterRoleBinding, ConfigMap, DaemonSet)", len(plain))
	}
}

// TestHelmTemplate_Values: the values that matter change what they name.
func TestHelmTemplate_Values(t *testing.T) {
	objs := byID(helmTemplate(t,
		"--set", "image.tag=v9.9.9",
		"--set", "baseRoleArn=arn:aws:iam::111122223333:role/pods/",
		"--set", "interfaces={cali+,eni+}",
		"--set", "createNamespace=false",
	))
	if _, ok := objs["Namespace /imdsd"]; ok {
		t.Error("createNamespace=false still renders the Namespace")
	}
	ds := typed[appsv1.DaemonSet](t, objs["DaemonSet imdsd/imdsd"])
	if got := ds.Spec.Template.Spec.Containers[0].Image; got != "ghcr.io/imdsd/imdsd:v9.9.9" {
		t.Errorf("image = %q, want the tag from values", got)
	}
	cfg := objs["ConfigMap imdsd/imdsd"]["data"].(map[string]any)[configKey].(map[string]any)
	k := cfg["kubernetes"].(map[string]any)
	if got := k["base_role_arn"]; got != "arn:aws:iam::111122223333:role/pods/" {
		t.Errorf("kubernetes.base_role_arn = %v", got)
	}
	if got := fmt.Sprint(k["interfaces"]); got != "[cali+ eni+]" {
		t.Errorf("kubernetes.interfaces = %v, want [cali+ eni+]", got)
	}
}

// typed converts a parsed object to its API type (through JSON, as the API
// server reads it), failing on a field the type does not have.
func typed[T any](t *testing.T, o object) *T {
	t.Helper()
	if o == nil {
		t.Fatal("object missing")
	}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	var v T
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", o.id(), err)
	}
	return &v
}

// wantRules is the agent's whole ClusterRole: the informers (pods of the
// node, namespaces, and a direct GET/List for a pod not seen yet), the
// TokenReview of the Pod Identity endpoint, and the Events on refused pods.
var wantRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"pods", "namespaces"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
	{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
}

func TestClusterRole_ExactlyWhatTheAgentNeeds(t *testing.T) {
	objs := byID(manifests(t))
	cr := typed[rbacv1.ClusterRole](t, objs["ClusterRole /imdsd"])
	if diff := cmp.Diff(wantRules, cr.Rules); diff != "" {
		t.Errorf("ClusterRole rules (-want +got):\n%s", diff)
	}
	crb := typed[rbacv1.ClusterRoleBinding](t, objs["ClusterRoleBinding /imdsd"])
	want := rbacv1.ClusterRoleBinding{
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "imdsd"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "imdsd", Namespace: "imdsd"}},
	}
	if diff := cmp.Diff(want.RoleRef, crb.RoleRef); diff != "" {
		t.Errorf("roleRef (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want.Subjects, crb.Subjects); diff != "" {
		t.Errorf("subjects (-want +got):\n%s", diff)
	}
	for id, o := range objs {
		if k := o["kind"]; k == "Role" || k == "RoleBinding" || (k == "ClusterRole" && id != "ClusterRole /imdsd") {
			t.Errorf("%s: the agent's only grant is ClusterRole imdsd", id)
		}
	}
}

// TestDaemonSet_Shape checks the DaemonSet fields the agent's security and
// operation depend on.
func TestDaemonSet_Shape(t *testing.T) {
	objs := byID(manifests(t))
	ds := typed[appsv1.DaemonSet](t, objs["DaemonSet imdsd/imdsd"])
	spec := ds.Spec.Template.Spec
	check := func(name string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("DaemonSet: %s", name)
		}
	}
	check("hostNetwork", spec.HostNetwork)
	check("serviceAccountName imdsd", spec.ServiceAccountName == "imdsd")
	check("priorityClassName system-node-critical", spec.PriorityClassName == "system-node-critical")
	check("tolerates every taint", slices.ContainsFunc(spec.Tolerations, func(tl corev1.Toleration) bool {
		return tl.Operator == corev1.TolerationOpExists && tl.Key == "" && tl.Effect == ""
	}))
	check("RollingUpdate", ds.Spec.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType)
	check("no host paths", !slices.ContainsFunc(spec.Volumes, func(v corev1.Volume) bool { return v.HostPath != nil }))
	check("one container", len(spec.Containers) == 1 && len(spec.InitContainers) == 0)
	c := spec.Containers[0]
	sc := c.SecurityContext
	check("not privileged", sc != nil && (sc.Privileged == nil || !*sc.Privileged))
	check("no privilege escalation", sc != nil && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation)
	check("capabilities: drop ALL, add NET_ADMIN only", sc != nil && sc.Capabilities != nil &&
		slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) &&
		slices.Equal(sc.Capabilities.Add, []corev1.Capability{"NET_ADMIN"}))
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			env[e.Name] = e.ValueFrom.FieldRef.FieldPath
		}
	}
	check("NODE_NAME from spec.nodeName", env["NODE_NAME"] == "spec.nodeName")
	check("NODE_IP from status.hostIP", env["NODE_IP"] == "status.hostIP")
	for name, p := range map[string]*corev1.Probe{"liveness /healthz": c.LivenessProbe, "readiness /readyz": c.ReadinessProbe} {
		path := "/" + strings.Fields(name)[1][1:]
		// host 127.0.0.1: with hostNetwork a probe would otherwise go to
		// the node IP, where only pod interfaces may reach the daemon.
		check(name+" on 127.0.0.1", p != nil && p.HTTPGet != nil && p.HTTPGet.Path == path && p.HTTPGet.Host == "127.0.0.1")
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		_, req := c.Resources.Requests[r]
		_, lim := c.Resources.Limits[r]
		check("requests and limits for "+string(r), req && lim)
	}
	cm := objs["ConfigMap imdsd/imdsd"]["data"].(map[string]any)[configKey].(map[string]any)
	k, _ := cm["kubernetes"].(map[string]any)
	check("config has kubernetes.enabled: true", k["enabled"] == true)
	check("probes' port is metrics_listen's", fmt.Sprint(cm["metrics_listen"]) == fmt.Sprintf("127.0.0.1:%d", c.LivenessProbe.HTTPGet.Port.IntValue()))
}
