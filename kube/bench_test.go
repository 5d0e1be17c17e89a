package kube

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/imdsd/imdsd/internal/k8stest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podsPerNode is Kubernetes' default maximum of pods on a node.
const podsPerNode = 110

// realisticPod is a pod as a Deployment makes it: two containers with
// env, ports, probes and mounts, labels, and kubectl's last-applied copy.
func realisticPod(ns, name, node string) *corev1.Pod {
	env := make([]corev1.EnvVar, 20)
	for i := range env {
		env[i] = corev1.EnvVar{Name: fmt.Sprintf("SETTING_%d", i), Value: strings.Repeat("v", 40)}
	}
	ctr := func(n string, port int32) corev1.Container {
		return corev1.Container{
			Name: n, Image: "registry.invalid/app/" + n + ":1.2.3", Env: env,
			Args:         []string{"--listen=:8080", "--log-level=info", "--config=/etc/app/config.yaml"},
			Ports:        []corev1.ContainerPort{{Name: n, ContainerPort: port}},
			VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/app"}},
		}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name,
			Labels: map[string]string{"app": "bench", "pod-template-hash": "5d8f7c9b6d", "team": "payments"},
			Annotations: map[string]string{
				"iam.amazonaws.com/role": "bench-role",
				lastApplied:              strings.Repeat(`{"apiVersion":"v1","kind":"Pod"}`, 60),
			},
		},
		Spec: corev1.PodSpec{
			ServiceAccountName: "sa", NodeName: node,
			Containers: []corev1.Container{ctr("app", 8080), ctr("sidecar", 9090)},
			Volumes:    []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	}
}

// BenchmarkWatcher_110Pods reports the heap the pod informer's store and
// the index hold for 110 realistic pods: with the slimming transform
// (heap-B/pod) and without it (heap-B/pod-unslimmed).
func BenchmarkWatcher_110Pods(b *testing.B) {
	c := k8stest.Start(b)
	ns := c.NewNamespace(b, nil)
	c.CreateServiceAccount(b, ns, "sa")
	node := "node-bench-" + ns // one node per run: only these 110 pods
	for i := range podsPerNode {
		name := fmt.Sprintf("p%03d", i)
		if _, err := c.Client.CoreV1().Pods(ns).Create(context.Background(), realisticPod(ns, name, node), metav1.CreateOptions{}); err != nil {
			b.Fatalf("create pod: %v", err)
		}
		c.SetPodStatus(b, ns, name, []netip.Addr{netip.AddrFrom4([4]byte{10, 70, byte(i / 250), byte(i%250 + 1)})}, corev1.PodRunning)
	}
	measure := func(slim bool) float64 {
		w, err := NewWatcher(WatcherOptions{Client: c.Client, Node: node})
		if err != nil {
			b.Fatal(err)
		}
		if !slim {
			if err := w.pods.SetTransform(func(o any) (any, error) { return o, nil }); err != nil {
				b.Fatal(err)
			}
		}
		before := heap()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = w.Run(ctx); close(done) }()
		for len(w.Pods()) < podsPerNode || !w.Synced() {
			time.Sleep(10 * time.Millisecond)
		}
		after := heap()
		runtime.KeepAlive(w)
		cancel()
		<-done
		return float64(after-before) / podsPerNode
	}
	var slim, full float64
	for b.Loop() {
		slim, full = measure(true), measure(false)
	}
	b.ReportMetric(slim, "heap-B/pod")
	b.ReportMetric(full, "heap-B/pod-unslimmed")
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
