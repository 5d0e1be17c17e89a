package k8stest

import (
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestStart_MissingBinariesSaysWhatToRun: without the binaries, starting
// fails with the command that builds them.
func TestStart_MissingBinariesSaysWhatToRun(t *testing.T) {
	t.Setenv(EnvKubeconfig, "")
	t.Setenv(envBin, t.TempDir())
	_, err := start(true)
	if err == nil || !strings.Contains(err.Error(), buildHint) {
		t.Fatalf("start without binaries: got %v, want an error containing %q", err, buildHint)
	}
}

// TestStart_OutsideMainRefuses: servers started without Main would outlive
// the test binary, so Start refuses and says how to use it.
func TestStart_OutsideMainRefuses(t *testing.T) {
	t.Setenv(EnvKubeconfig, "")
	_, err := start(false)
	if err == nil || !strings.Contains(err.Error(), "TestMain") {
		t.Fatalf("start outside Main: got %v, want an error naming TestMain", err)
	}
}

// TestCluster_Helpers drives every helper against the real API server:
// a pod with its status is listed by node, its token passes TokenReview
// with the pod's name in the extras, and the deleted pod is gone.
func TestCluster_Helpers(t *testing.T) {
	c := Start(t)
	ctx := context.Background()
	ns := c.NewNamespace(t, map[string]string{"example.com/a": "b"})
	gotNS, err := c.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil || gotNS.Annotations["example.com/a"] != "b" {
		t.Fatalf("namespace %s: annotations %v, err %v; want example.com/a=b", ns, gotNS.Annotations, err)
	}
	c.CreateServiceAccount(t, ns, "sa")
	c.CreatePod(t, ns, "p", "sa", "node-h", map[string]string{"k": "v"}, false)
	ips := []netip.Addr{netip.MustParseAddr("10.244.0.7"), netip.MustParseAddr("fd00:10:244::7")}
	c.SetPodStatus(t, ns, "p", ips, corev1.PodRunning)

	list, err := c.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=node-h"})
	if err != nil {
		t.Fatalf("list pods of node-h: %v", err)
	}
	var found *corev1.Pod
	for i := range list.Items {
		if list.Items[i].Namespace == ns {
			found = &list.Items[i]
		}
	}
	if found == nil {
		t.Fatalf("pod %s/p not listed on node-h", ns)
	}
	if found.Status.Phase != corev1.PodRunning || len(found.Status.PodIPs) != 2 || found.Status.PodIPs[1].IP != "fd00:10:244::7" {
		t.Fatalf("pod status: phase %q, podIPs %v; want Running with both addresses", found.Status.Phase, found.Status.PodIPs)
	}

	tok := c.PodToken(t, ns, "sa", "p", "test.audience")
	tr, err := c.Client.AuthenticationV1().TokenReviews().Create(ctx, &authv1.TokenReview{
		Spec: authv1.TokenReviewSpec{Token: tok, Audiences: []string{"test.audience"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token review: %v", err)
	}
	if !tr.Status.Authenticated || tr.Status.User.Username != "system:serviceaccount:"+ns+":sa" {
		t.Fatalf("token review: authenticated %v as %q; want system:serviceaccount:%s:sa", tr.Status.Authenticated, tr.Status.User.Username, ns)
	}
	if got := tr.Status.User.Extra["authentication.kubernetes.io/pod-name"]; len(got) != 1 || got[0] != "p" {
		t.Fatalf("token review pod-name extra %v; want [p]", got)
	}

	c.DeletePod(t, ns, "p")
	if _, err := c.Client.CoreV1().Pods(ns).Get(ctx, "p", metav1.GetOptions{}); err == nil {
		t.Fatalf("pod %s/p still there after DeletePod", ns)
	}
}

// TestProxy_CutAndRestore: through the proxy the server answers, after Cut
// it does not, after Restore it does again.
func TestProxy_CutAndRestore(t *testing.T) {
	c := Start(t)
	p := c.NewProxy(t)
	cs, err := kubernetes.NewForConfig(p.Config(c))
	if err != nil {
		t.Fatalf("client via proxy: %v", err)
	}
	ready := func() error {
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background())
		return err
	}
	if err := ready(); err != nil {
		t.Fatalf("readyz via proxy: %v", err)
	}
	p.Cut()
	if err := ready(); err == nil {
		t.Fatal("readyz via a cut proxy succeeded; want an error")
	}
	p.Restore()
	if err := ready(); err != nil {
		t.Fatalf("readyz via the restored proxy: %v", err)
	}
}
