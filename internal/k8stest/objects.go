package k8stest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TokenSeconds is the lifetime PodToken asks for: the API server's default
// projected-token lifetime (its minimum is 600 s).
const TokenSeconds = 3600

// testImage is the image of every test pod: nothing pulls it (no kubelet).
const testImage = "registry.invalid/imdsd-test:none"

func ctx(tb testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), opTimeout)
	tb.Cleanup(cancel)
	return c
}

// NewNamespace creates a namespace unique to this call, with annotations
// (nil for none), and returns its name. Namespaces are never deleted: there
// is no namespace controller to finish that.
func (c *Cluster) NewNamespace(tb testing.TB, annotations map[string]string) string {
	tb.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatalf("random namespace name: %v", err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:        "t-" + hex.EncodeToString(b[:]),
		Annotations: annotations,
	}}
	got, err := c.Client.CoreV1().Namespaces().Create(ctx(tb), ns, metav1.CreateOptions{})
	if err != nil {
		tb.Fatalf("create namespace: %v", err)
	}
	return got.Name
}

// CreateServiceAccount creates the service account ns/name (there is no
// controller-manager, so not even "default" exists).
func (c *Cluster) CreateServiceAccount(tb testing.TB, ns, name string) {
	tb.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if _, err := c.Client.CoreV1().ServiceAccounts(ns).Create(ctx(tb), sa, metav1.CreateOptions{}); err != nil {
		tb.Fatalf("create service account %s/%s: %v", ns, name, err)
	}
}

// CreatePod creates pod ns/name of service account sa, already "scheduled"
// to node (there is no scheduler), with annotations (nil for none). Its
// status is empty until SetPodStatus sets it, as a kubelet would.
func (c *Cluster) CreatePod(tb testing.TB, ns, name, sa, node string, annotations map[string]string, hostNetwork bool) *corev1.Pod {
	tb.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annotations},
		Spec: corev1.PodSpec{
			ServiceAccountName: sa,
			NodeName:           node,
			HostNetwork:        hostNetwork,
			Containers:         []corev1.Container{{Name: "app", Image: testImage}},
		},
	}
	got, err := c.Client.CoreV1().Pods(ns).Create(ctx(tb), p, metav1.CreateOptions{})
	if err != nil {
		tb.Fatalf("create pod %s/%s: %v", ns, name, err)
	}
	return got
}

// SetPodStatus sets the pod's status.podIP (the first address), podIPs
// and phase through the status subresource, as the kubelet does.
func (c *Cluster) SetPodStatus(tb testing.TB, ns, name string, ips []netip.Addr, phase corev1.PodPhase) *corev1.Pod {
	tb.Helper()
	pods := c.Client.CoreV1().Pods(ns)
	p, err := pods.Get(ctx(tb), name, metav1.GetOptions{})
	if err != nil {
		tb.Fatalf("get pod %s/%s: %v", ns, name, err)
	}
	p.Status.Phase = phase
	p.Status.PodIP, p.Status.PodIPs = "", nil
	for i, a := range ips {
		if i == 0 {
			p.Status.PodIP = a.String()
		}
		p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: a.String()})
	}
	if p.Spec.HostNetwork && len(ips) > 0 {
		p.Status.HostIP = ips[0].String()
		p.Status.HostIPs = []corev1.HostIP{{IP: ips[0].String()}}
	}
	got, err := pods.UpdateStatus(ctx(tb), p, metav1.UpdateOptions{})
	if err != nil {
		tb.Fatalf("set status of pod %s/%s: %v", ns, name, err)
	}
	return got
}

// DeletePod deletes the pod at once (grace 0: there is no kubelet to
// confirm a graceful stop).
func (c *Cluster) DeletePod(tb testing.TB, ns, name string) {
	tb.Helper()
	zero := int64(0)
	if err := c.Client.CoreV1().Pods(ns).Delete(ctx(tb), name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		tb.Fatalf("delete pod %s/%s: %v", ns, name, err)
	}
}

// PodToken returns a service-account token of ns/sa bound to pod ns/pod,
// for audience, valid TokenSeconds, from the TokenRequest API (what a
// projected service-account token volume holds). It is a secret: never log
// it.
func (c *Cluster) PodToken(tb testing.TB, ns, sa, pod, audience string) string {
	tb.Helper()
	p, err := c.Client.CoreV1().Pods(ns).Get(ctx(tb), pod, metav1.GetOptions{})
	if err != nil {
		tb.Fatalf("get pod %s/%s: %v", ns, pod, err)
	}
	secs := int64(TokenSeconds)
	tr := &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{
		Audiences:         []string{audience},
		ExpirationSeconds: &secs,
		BoundObjectRef:    &authv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: p.Name, UID: p.UID},
	}}
	got, err := c.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx(tb), sa, tr, metav1.CreateOptions{})
	if err != nil {
		tb.Fatalf("token request for %s/%s bound to pod %s: %v", ns, sa, pod, err)
	}
	if got.Status.Token == "" {
		tb.Fatalf("token request for %s/%s: empty token", ns, sa)
	}
	if until := time.Until(got.Status.ExpirationTimestamp.Time); until <= 0 {
		tb.Fatalf("token request for %s/%s: already expired", ns, sa)
	}
	return got.Status.Token
}
