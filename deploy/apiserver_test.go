package deploy

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/imdsd/imdsd/internal/k8stest"
)

func TestMain(m *testing.M) { os.Exit(k8stest.Main(m)) }

// The manifests' identity, as the objects name it.
const (
	agentNamespace = "imdsd"
	agentSA        = "imdsd"
	fieldManager   = "imdsd-deploy-test"
	testNode       = "node-deploy-test"
)

// resources maps each kind of the manifests to its API resource (there is
// no discovery-based mapper here: the list is short and fixed).
var resources = map[string]struct {
	gvr        schema.GroupVersionResource
	namespaced bool
}{
	"Namespace":          {schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, false},
	"ServiceAccount":     {schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}, true},
	"ConfigMap":          {schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, true},
	"ClusterRole":        {schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}, false},
	"ClusterRoleBinding": {schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}, false},
	"DaemonSet":          {schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}, true},
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// applyManifests server-side applies every manifest: first with
// dryRun=All (validation, admission, RBAC escalation checks), then for
// real, in file order so the namespace precedes what lives in it.
func applyManifests(t *testing.T, c *k8stest.Cluster) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	objs := manifests(t)
	// the namespace first: the others live in it
	ordered := make([]object, 0, len(objs))
	for _, o := range objs {
		if o["kind"] == "Namespace" {
			ordered = append(ordered, o)
		}
	}
	for _, o := range objs {
		if o["kind"] != "Namespace" {
			ordered = append(ordered, o)
		}
	}
	for _, dry := range []bool{true, false} {
		for _, o := range ordered {
			kind, _ := o["kind"].(string)
			res, ok := resources[kind]
			if !ok {
				t.Fatalf("%s: kind %s has no entry in resources", o.id(), kind)
			}
			// The ConfigMap's config was parsed for comparison: put it
			// back as the file text the API stores.
			body := o
			if kind == "ConfigMap" {
				body = configMapText(t, o)
			}
			u := &unstructured.Unstructured{Object: body}
			data, err := json.Marshal(u.Object)
			if err != nil {
				t.Fatal(err)
			}
			opts := metav1.PatchOptions{FieldManager: fieldManager, Force: new(true)}
			if dry && kind != "Namespace" { // a dry-run namespace would not exist for the objects after it
				opts.DryRun = []string{metav1.DryRunAll}
			}
			var ri dynamic.ResourceInterface = dyn.Resource(res.gvr)
			if res.namespaced {
				ri = dyn.Resource(res.gvr).Namespace(u.GetNamespace())
			}
			if _, err := ri.Patch(testCtx(t), u.GetName(), types.ApplyPatchType, data, opts); err != nil {
				t.Fatalf("apply %s (dryRun %v): %v", o.id(), dry, err)
			}
		}
	}
}

func configMapText(t *testing.T, o object) object {
	t.Helper()
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	var cm map[string]any
	if err := json.Unmarshal(b, &cm); err != nil {
		t.Fatal(err)
	}
	data := cm["data"].(map[string]any)
	cfg, err := json.Marshal(data[configKey]) // JSON is YAML
	if err != nil {
		t.Fatal(err)
	}
	data[configKey] = string(cfg)
	return cm
}

// TestManifests_ApplyToRealAPIServer: a real kube-apiserver accepts every
// object of deploy/kubernetes (server-side apply, dry-run then real), and
// stores the DaemonSet as written.
func TestManifests_ApplyToRealAPIServer(t *testing.T) {
	c := k8stest.Start(t)
	applyManifests(t, c)
	ds, err := c.Client.AppsV1().DaemonSets(agentNamespace).Get(testCtx(t), "imdsd", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !ds.Spec.Template.Spec.HostNetwork || ds.Spec.Template.Spec.ServiceAccountName != agentSA {
		t.Errorf("stored DaemonSet lost hostNetwork or its service account: %+v", ds.Spec.Template.Spec)
	}
	if _, err := c.Client.CoreV1().ConfigMaps(agentNamespace).Get(testCtx(t), "imdsd", metav1.GetOptions{}); err != nil {
		t.Errorf("ConfigMap not stored: %v", err)
	}
}

// agentClient is a client authenticated as the agent's ServiceAccount, with
// a token from TokenRequest (no audiences: the API server's own), so it has
// the manifests' ClusterRole and nothing else.
func agentClient(t *testing.T, c *k8stest.Cluster) (*kubernetes.Clientset, *rest.Config) {
	t.Helper()
	secs := int64(600)
	tr, err := c.Client.CoreV1().ServiceAccounts(agentNamespace).CreateToken(testCtx(t), agentSA,
		&authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: &secs}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token request for %s/%s: %v", agentNamespace, agentSA, err)
	}
	cfg := rest.AnonymousClientConfig(c.Config)
	cfg.BearerToken = tr.Status.Token
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs, cfg
}

// TestRBAC_AgentHasExactlyWhatItNeeds: as the agent's ServiceAccount, with
// only the manifests' ClusterRole, every call the agent makes succeeds and
// the calls it must never make are forbidden. Real calls, not
// SelfSubjectAccessReviews: the API server's authorizer decides each one.
func TestRBAC_AgentHasExactlyWhatItNeeds(t *testing.T) {
	c := k8stest.Start(t)
	applyManifests(t, c)
	ns := c.NewNamespace(t, map[string]string{"iam.amazonaws.com/allowed-roles": `["app-*"]`})
	c.CreateServiceAccount(t, ns, "app")
	pod := c.CreatePod(t, ns, "app-1", "app", testNode, map[string]string{"iam.amazonaws.com/role": "app-reader"}, false)
	c.SetPodStatus(t, ns, pod.Name, []netip.Addr{netip.MustParseAddr("10.244.7.5")}, corev1.PodRunning)
	podToken := c.PodToken(t, ns, "app", pod.Name, "pods.eks.amazonaws.com")

	agent, agentCfg := agentClient(t, c)
	ctx := testCtx(t)
	onNode := metav1.ListOptions{FieldSelector: "spec.nodeName=" + testNode}

	allowed := map[string]func() error{
		"list pods of the node": func() error {
			l, err := agent.CoreV1().Pods("").List(ctx, onNode)
			if err == nil && len(l.Items) == 0 {
				t.Error("list pods of the node: no pod, want app-1")
			}
			return err
		},
		"watch pods of the node": func() error {
			w, err := agent.CoreV1().Pods("").Watch(ctx, onNode)
			if err == nil {
				w.Stop()
			}
			return err
		},
		"get a pod":       func() error { _, err := agent.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{}); return err },
		"get a namespace": func() error { _, err := agent.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); return err },
		"list namespaces": func() error { _, err := agent.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); return err },
		"watch namespaces": func() error {
			w, err := agent.CoreV1().Namespaces().Watch(ctx, metav1.ListOptions{})
			stopWatch(w, err)
			return err
		},
		"create a TokenReview": func() error {
			r, err := agent.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{
				Token: podToken, Audiences: []string{"pods.eks.amazonaws.com"},
			}}, metav1.CreateOptions{})
			if err == nil && !r.Status.Authenticated {
				t.Errorf("TokenReview of a valid pod token: not authenticated (%s)", r.Status.Error)
			}
			return err
		},
		"create and patch an Event on the pod": func() error {
			ev, err := agent.CoreV1().Events(ns).Create(ctx, &corev1.Event{
				ObjectMeta:     metav1.ObjectMeta{GenerateName: "app-1."},
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod.Name, UID: pod.UID, APIVersion: "v1"},
				Reason:         "RoleForbidden",
				Message:        "role app-admin is not permitted in namespace " + ns,
				Type:           corev1.EventTypeWarning,
				Source:         corev1.EventSource{Component: "imdsd", Host: testNode},
				Count:          1,
			}, metav1.CreateOptions{})
			if err != nil {
				return err
			}
			_, err = agent.CoreV1().Events(ns).Patch(ctx, ev.Name, types.StrategicMergePatchType, []byte(`{"count":2}`), metav1.PatchOptions{})
			return err
		},
	}
	for name, call := range allowed {
		t.Run("allowed/"+name, func(t *testing.T) {
			if err := call(); err != nil {
				t.Errorf("%s as the agent: %v", name, err)
			}
		})
	}

	impersonating := rest.CopyConfig(agentCfg)
	impersonating.Impersonate = rest.ImpersonationConfig{UserName: "imdsd-admin", Groups: []string{"system:masters"}}
	imp, err := kubernetes.NewForConfig(impersonating)
	if err != nil {
		t.Fatal(err)
	}
	forbidden := map[string]func() error{
		"get a secret":    func() error { _, err := agent.CoreV1().Secrets(ns).Get(ctx, "any", metav1.GetOptions{}); return err },
		"list secrets":    func() error { _, err := agent.CoreV1().Secrets("").List(ctx, metav1.ListOptions{}); return err },
		"list configmaps": func() error { _, err := agent.CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{}); return err },
		"get its configmap": func() error {
			_, err := agent.CoreV1().ConfigMaps(agentNamespace).Get(ctx, "imdsd", metav1.GetOptions{})
			return err
		},
		"exec into a pod": func() error {
			return agent.CoreV1().RESTClient().Post().Namespace(ns).Resource("pods").Name(pod.Name).SubResource("exec").
				Param("command", "id").Param("stdout", "true").Do(ctx).Error()
		},
		"get pods/exec": func() error {
			return agent.CoreV1().RESTClient().Get().Namespace(ns).Resource("pods").Name(pod.Name).SubResource("exec").
				Param("command", "id").Do(ctx).Error()
		},
		"create a pod": func() error {
			p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "evil"}, Spec: corev1.PodSpec{ServiceAccountName: "app", NodeName: testNode,
				Containers: []corev1.Container{{Name: "c", Image: "example.invalid/x"}}}}
			_, err := agent.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
			return err
		},
		"update a pod": func() error {
			p, err := c.Client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			p.Annotations["iam.amazonaws.com/role"] = "app-admin"
			_, err = agent.CoreV1().Pods(ns).Update(ctx, p, metav1.UpdateOptions{})
			return err
		},
		"patch a pod's status": func() error {
			_, err := agent.CoreV1().Pods(ns).Patch(ctx, pod.Name, types.MergePatchType, []byte(`{"status":{"podIP":"10.244.7.6"}}`), metav1.PatchOptions{}, "status")
			return err
		},
		"delete a pod": func() error { return agent.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{}) },
		"annotate a namespace": func() error {
			_, err := agent.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType, []byte(`{"metadata":{"annotations":{"iam.amazonaws.com/allowed-roles":"[\"*\"]"}}}`), metav1.PatchOptions{})
			return err
		},
		"request a token for a pod's service account": func() error {
			_, err := agent.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "app", &authnv1.TokenRequest{}, metav1.CreateOptions{})
			return err
		},
		"get nodes": func() error { _, err := agent.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); return err },
		"delete an event": func() error {
			return agent.CoreV1().Events(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
		},
		"edit its own ClusterRole": func() error { return agent.RbacV1().ClusterRoles().Delete(ctx, "imdsd", metav1.DeleteOptions{}) },
		"impersonate an admin": func() error {
			_, err := imp.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
			return err
		},
	}
	for name, call := range forbidden {
		t.Run("forbidden/"+name, func(t *testing.T) {
			err := call()
			if !apierrors.IsForbidden(err) {
				t.Errorf("%s as the agent: got %v, want 403 Forbidden", name, err)
			}
		})
	}
}

func stopWatch(w interface{ Stop() }, err error) {
	if err == nil {
		w.Stop()
	}
}
