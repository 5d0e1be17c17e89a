package kube

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/imdsd/imdsd/internal/k8stest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

// fire is an after func whose timer the test fires.
type fire chan time.Time

func (f fire) after(time.Duration) <-chan time.Time { return f }

func TestNewWatcher_BadOptions(t *testing.T) {
	c := k8stest.Start(t)
	tests := map[string]struct {
		o    WatcherOptions
		want string
	}{
		"no client":      {o: WatcherOptions{Node: "n"}, want: "no Kubernetes client"},
		"no node":        {o: WatcherOptions{Client: c.Client}, want: "NODE_NAME"},
		"wait too long":  {o: WatcherOptions{Client: c.Client, Node: "n", Wait: 2 * time.Second}, want: "wait 2s out of range"},
		"negative grace": {o: WatcherOptions{Client: c.Client, Node: "n", Grace: -time.Second}, want: "grace -1s is negative"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := NewWatcher(tc.o); err == nil || !contains(err.Error(), tc.want) {
				t.Fatalf("NewWatcher: got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestWatcher_PodByIP: v4 and v6 addresses of this node's pods find them;
// another node's pod and a hostNetwork pod are not found by address; the
// namespace's annotations are there.
func TestWatcher_PodByIP(t *testing.T) {
	c := k8stest.Start(t)
	node := nodeName(t)
	ns := c.NewNamespace(t, map[string]string{"iam.amazonaws.com/permitted": ".*"})
	c.CreateServiceAccount(t, ns, "sa")
	c.CreatePod(t, ns, "mine", "sa", node, map[string]string{"iam.amazonaws.com/role": "r"}, false)
	c.SetPodStatus(t, ns, "mine", addrs("10.61.0.2", "fd00:61::2"), corev1.PodRunning)
	c.CreatePod(t, ns, "other", "sa", node+"-other", nil, false)
	c.SetPodStatus(t, ns, "other", addrs("10.61.0.3"), corev1.PodRunning)
	c.CreatePod(t, ns, "host", "sa", node, nil, true)
	c.SetPodStatus(t, ns, "host", addrs("10.61.0.4"), corev1.PodRunning)

	w := startWatcher(t, WatcherOptions{Client: c.Client, Node: node, Wait: 50 * time.Millisecond})
	waitFor(t, "both pods of the node in the informer", func() bool { return len(w.Pods()) == 2 })

	for _, a := range []string{"10.61.0.2", "fd00:61::2", "::ffff:10.61.0.2"} {
		p, err := w.PodByIP(context.Background(), netip.MustParseAddr(a))
		if err != nil {
			t.Fatalf("PodByIP(%s): %v", a, err)
		}
		want := []netip.Addr{netip.MustParseAddr("10.61.0.2"), netip.MustParseAddr("fd00:61::2")}
		if p.Namespace != ns || p.Name != "mine" || p.ServiceAccount != "sa" || p.Node != node || p.Phase != "Running" ||
			p.UID == "" || p.HostNetwork || !slices.Equal(p.IPs, want) || p.Annotations["iam.amazonaws.com/role"] != "r" {
			t.Fatalf("PodByIP(%s) = %+v; want %s/mine of sa on %s, Running, both addresses, its annotation", a, p, ns, node)
		}
	}
	for _, a := range []string{"10.61.0.3", "10.61.0.4", "10.61.0.99"} {
		if p, err := w.PodByIP(context.Background(), netip.MustParseAddr(a)); !errors.Is(err, ErrUnknownPod) {
			t.Errorf("PodByIP(%s) = %+v, %v; want ErrUnknownPod", a, p, err)
		}
	}
	if h, ok := w.Pod(ns, "host"); !ok || !h.HostNetwork {
		t.Errorf("Pod(%s, host) = %+v, %v; want the hostNetwork pod (known by name)", ns, h, ok)
	}
	if _, ok := w.Pod(ns, "other"); ok {
		t.Errorf("Pod(%s, other): another node's pod is known", ns)
	}
	waitFor(t, "the namespace in the informer", func() bool { _, ok := w.NamespaceAnnotations(ns); return ok })
	if ann, _ := w.NamespaceAnnotations(ns); ann["iam.amazonaws.com/permitted"] != ".*" {
		t.Errorf("NamespaceAnnotations(%s) = %v; want iam.amazonaws.com/permitted", ns, ann)
	}
	if got := w.Pods(); got[0].Name != "host" || got[1].Name != "mine" {
		t.Errorf("Pods() = %v, %v; want host, mine (sorted)", got[0].Key(), got[1].Key())
	}
	if st := w.Status(); !st.Synced || st.Pods != 2 || st.Stale || st.Err != "" {
		t.Errorf("Status() = %+v; want synced, 2 pods, not stale, no error", st)
	}
}

// TestWatcher_StartRace_WokenByEvent: requests from an address whose pod
// has no IP yet share one wait and are answered by the informer's event
// when the "kubelet" publishes the IP: no direct List, no timer.
func TestWatcher_StartRace_WokenByEvent(t *testing.T) {
	c := k8stest.Start(t)
	node := nodeName(t)
	ns := c.NewNamespace(t, nil)
	c.CreateServiceAccount(t, ns, "sa")
	c.CreatePod(t, ns, "late", "sa", node, nil, false)
	var lc listCounter
	w, err := NewWatcher(WatcherOptions{Client: client(t, c.Config, &lc), Node: node, Heartbeat: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	never := make(fire) // the wait's timer never fires: only the event can answer
	w.after = never.after
	runWatcher(t, w)
	waitFor(t, "the pod in the informer", func() bool { _, ok := w.Pod(ns, "late"); return ok })
	lists := lc.n.Load()

	a := netip.MustParseAddr("10.62.0.2")
	const n = 5
	results := make(chan error, n)
	for range n {
		go func() {
			p, err := w.PodByIP(context.Background(), a)
			if err == nil && p.Name != "late" {
				err = errors.New("got pod " + p.Key())
			}
			results <- err
		}()
	}
	waitFor(t, "5 requests sharing one wait", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.waits) == 1 && w.waits[a] != nil && w.waits[a].joined == n
	})
	c.SetPodStatus(t, ns, "late", []netip.Addr{a}, corev1.PodRunning)
	for range n {
		if err := <-results; err != nil {
			t.Fatalf("PodByIP(%s) while it was published: %v", a, err)
		}
	}
	if d := lc.n.Load() - lists; d != 0 {
		t.Fatalf("%d direct pod lists during the wait; want 0 (the informer event answers)", d)
	}
}

// TestWatcher_StartRace_ListAfterWait: when the wait ends without the
// address, the requests sharing it cause ONE direct List, and get
// ErrUnknownPod.
func TestWatcher_StartRace_ListAfterWait(t *testing.T) {
	c := k8stest.Start(t)
	node := nodeName(t)
	var lc listCounter
	w, err := NewWatcher(WatcherOptions{Client: client(t, c.Config, &lc), Node: node, Heartbeat: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	timer := make(fire, 1)
	w.after = timer.after
	runWatcher(t, w)
	lists := lc.n.Load()

	a := netip.MustParseAddr("10.63.0.2")
	const n = 5
	results := make(chan error, n)
	for range n {
		go func() {
			_, err := w.PodByIP(context.Background(), a)
			results <- err
		}()
	}
	waitFor(t, "5 requests sharing one wait", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.waits[a] != nil && w.waits[a].joined == n
	})
	timer <- time.Time{}
	for range n {
		if err := <-results; !errors.Is(err, ErrUnknownPod) {
			t.Fatalf("PodByIP(%s) of no pod: %v; want ErrUnknownPod", a, err)
		}
	}
	if d := lc.n.Load() - lists; d != 1 {
		t.Fatalf("%d direct pod lists for 5 requests; want 1", d)
	}
}

// TestWatcher_ReusedIP: an address that passes from a finished pod, or
// from a pod still listed, to a newer pod is the newer pod's only.
func TestWatcher_ReusedIP(t *testing.T) {
	c := k8stest.Start(t)
	node := nodeName(t)
	ns := c.NewNamespace(t, nil)
	c.CreateServiceAccount(t, ns, "sa")
	w := startWatcher(t, WatcherOptions{Client: c.Client, Node: node, Wait: 50 * time.Millisecond})
	owner := func(a netip.Addr) string {
		p, err := w.PodByIP(context.Background(), a)
		if err != nil {
			return err.Error()
		}
		return p.Name
	}

	// A Job's pod finishes, a new pod gets its address.
	a := netip.MustParseAddr("10.64.0.2")
	c.CreatePod(t, ns, "job", "sa", node, nil, false)
	c.SetPodStatus(t, ns, "job", []netip.Addr{a}, corev1.PodRunning)
	waitFor(t, "job owning "+a.String(), func() bool { return owner(a) == "job" })
	c.SetPodStatus(t, ns, "job", []netip.Addr{a}, corev1.PodSucceeded)
	waitFor(t, "the finished job to own nothing", func() bool { p, _ := w.Pod(ns, "job"); return p.Phase == "Succeeded" })
	if got := owner(a); got == "job" {
		t.Fatalf("finished pod still owns %s", a)
	}
	c.CreatePod(t, ns, "next", "sa", node, nil, false)
	c.SetPodStatus(t, ns, "next", []netip.Addr{a}, corev1.PodRunning)
	waitFor(t, "next owning "+a.String(), func() bool { return owner(a) == "next" })

	// The old pod is still Running in the informer (its delete not seen
	// yet, as with a Recreate deployment): the newer pod owns the address.
	b := netip.MustParseAddr("10.64.0.3")
	c.CreatePod(t, ns, "old", "sa", node, nil, false)
	c.SetPodStatus(t, ns, "old", []netip.Addr{b}, corev1.PodRunning)
	waitFor(t, "old owning "+b.String(), func() bool { return owner(b) == "old" })
	c.CreatePod(t, ns, "new", "sa", node, nil, false)
	c.SetPodStatus(t, ns, "new", []netip.Addr{b}, corev1.PodRunning)
	waitFor(t, "new owning "+b.String(), func() bool { return owner(b) == "new" })
	if _, ok := w.Pod(ns, "old"); !ok {
		t.Fatal("old pod gone from the informer: the test no longer shows two claimants")
	}
}

// TestWatcher_DeletedPod: on the delete event the address is unknown at
// once, and subscribers hear add, update and delete.
func TestWatcher_DeletedPod(t *testing.T) {
	c := k8stest.Start(t)
	node := nodeName(t)
	ns := c.NewNamespace(t, nil)
	c.CreateServiceAccount(t, ns, "sa")
	w, err := NewWatcher(WatcherOptions{Client: c.Client, Node: node})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		seen   []string
		gotDel = make(chan struct{})
	)
	a := netip.MustParseAddr("10.65.0.2")
	w.Subscribe(func(e PodEvent) {
		mu.Lock()
		defer mu.Unlock()
		kind := "set"
		if e.Deleted {
			kind = "deleted"
		}
		seen = append(seen, kind)
		if e.Deleted {
			if _, ok := w.idx.owner(a); ok { // under the handler: must be gone already
				seen = append(seen, "still-owned")
			}
			close(gotDel)
		}
	})
	runWatcher(t, w)
	c.CreatePod(t, ns, "p", "sa", node, nil, false)
	c.SetPodStatus(t, ns, "p", []netip.Addr{a}, corev1.PodRunning)
	waitFor(t, "p owning "+a.String(), func() bool { p, err := w.PodByIP(context.Background(), a); return err == nil && p.Name == "p" })
	c.DeletePod(t, ns, "p")
	<-gotDel
	timer := make(fire, 1)
	timer <- time.Time{}
	w.after = timer.after
	if p, err := w.PodByIP(context.Background(), a); !errors.Is(err, ErrUnknownPod) {
		t.Fatalf("PodByIP(%s) after the delete event = %+v, %v; want ErrUnknownPod", a, p, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) < 3 || seen[0] != "set" || seen[len(seen)-1] != "deleted" || slices.Contains(seen, "still-owned") {
		t.Fatalf("subscriber saw %v; want set (add), set (status), deleted, with the address gone at the delete", seen)
	}
}

// TestWatcher_APIServerUnreachable: with the API server cut off, the last
// mapping is served for the grace period, then ErrStale; Status shows it;
// it recovers when the server is back.
func TestWatcher_APIServerUnreachable(t *testing.T) {
	c := k8stest.Start(t)
	node := nodeName(t)
	ns := c.NewNamespace(t, nil)
	c.CreateServiceAccount(t, ns, "sa")
	a := netip.MustParseAddr("10.66.0.2")
	c.CreatePod(t, ns, "p", "sa", node, nil, false)
	c.SetPodStatus(t, ns, "p", []netip.Addr{a}, corev1.PodRunning)

	proxy := c.NewProxy(t)
	clk := newClock()
	const grace = 5 * time.Minute
	w := startWatcher(t, WatcherOptions{Client: client(t, proxy.Config(c), nil), Node: node, Grace: grace, Heartbeat: 50 * time.Millisecond, Now: clk.Now})
	waitFor(t, "p in the informer", func() bool { _, ok := w.Pod(ns, "p"); return ok })

	proxy.Cut()
	waitFor(t, "Status to show the error", func() bool { return w.Status().Err != "" })
	clk.Add(grace - time.Second)
	if p, err := w.PodByIP(context.Background(), a); err != nil || p.Name != "p" {
		t.Fatalf("within the grace: PodByIP = %+v, %v; want the last known pod p", p, err)
	}
	if st := w.Status(); st.Stale {
		t.Fatalf("within the grace: Status() = %+v; want not stale", st)
	}
	clk.Add(2 * time.Second)
	if p, err := w.PodByIP(context.Background(), a); !errors.Is(err, ErrStale) {
		t.Fatalf("past the grace: PodByIP = %+v, %v; want ErrStale", p, err)
	}
	if st := w.Status(); !st.Stale || st.Err == "" || st.LastContact.After(clk.Now().Add(-grace)) {
		t.Fatalf("past the grace: Status() = %+v; want stale, an error, last contact over %s ago", st, grace)
	}

	proxy.Restore()
	waitFor(t, "recovery", func() bool { st := w.Status(); return !st.Stale && st.Err == "" })
	if p, err := w.PodByIP(context.Background(), a); err != nil || p.Name != "p" {
		t.Fatalf("after recovery: PodByIP = %+v, %v; want p", p, err)
	}
}

// TestWatcher_Event: an Event on a pod is written through the API, once
// per pod and reason.
func TestWatcher_Event(t *testing.T) {
	c := k8stest.Start(t)
	node := nodeName(t)
	ns := c.NewNamespace(t, nil)
	c.CreateServiceAccount(t, ns, "sa")
	kp := c.CreatePod(t, ns, "p", "sa", node, nil, false)
	w := startWatcher(t, WatcherOptions{Client: c.Client, Node: node})
	waitFor(t, "p in the informer", func() bool { _, ok := w.Pod(ns, "p"); return ok })
	p, _ := w.Pod(ns, "p")

	w.Event(p, "ImdsdRoleForbidden", "role r is not permitted in namespace "+ns)
	w.Event(p, "ImdsdRoleForbidden", "role r is not permitted in namespace "+ns) // deduplicated
	w.Event(p, "ImdsdCredentialError", "sts down")                               // written after the others
	list := func() []corev1.Event {
		l, err := c.Client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=p"})
		if err != nil {
			t.Fatalf("list events: %v", err)
		}
		return l.Items
	}
	waitFor(t, "the second reason's event", func() bool {
		return slices.ContainsFunc(list(), func(e corev1.Event) bool { return e.Reason == "ImdsdCredentialError" })
	})
	var forbidden []corev1.Event
	for _, e := range list() {
		if e.Reason == "ImdsdRoleForbidden" {
			forbidden = append(forbidden, e)
		}
	}
	if len(forbidden) != 1 {
		t.Fatalf("%d ImdsdRoleForbidden events; want 1 (deduplicated)", len(forbidden))
	}
	e := forbidden[0]
	if e.Type != corev1.EventTypeWarning || e.InvolvedObject.UID != kp.UID || e.InvolvedObject.Kind != "Pod" || e.Source.Component != "imdsd" || e.Source.Host != node {
		t.Fatalf("event = type %q, object %+v, source %+v; want a Warning on pod uid %s from imdsd on %s", e.Type, e.InvolvedObject, e.Source, kp.UID, node)
	}
}

// runWatcher runs w until the test ends and waits for its sync.
func runWatcher(t *testing.T, w *Watcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	waitFor(t, "the watcher's informers to sync", w.Synced)
}
