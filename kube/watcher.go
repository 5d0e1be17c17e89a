package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Sentinels of the pod source.
var (
	// ErrUnknownPod: no pod of this node has the address, after the
	// bounded wait and one direct List.
	ErrUnknownPod = errors.New("no pod of this node has this address")
	// ErrStale: the API server was unreachable longer than the grace
	// period, so the mapping may be wrong: serve nothing.
	ErrStale = errors.New("kubernetes API server unreachable longer than the grace period")
)

// Defaults and bounds of WatcherOptions.
const (
	DefaultWait      = time.Second
	MaxWait          = time.Second
	DefaultGrace     = 5 * time.Minute
	DefaultHeartbeat = 10 * time.Second
	// listTimeout bounds the direct List after a wait, and a heartbeat.
	listTimeout = 5 * time.Second
	// nodeField is the field selector key of a pod's node.
	nodeField = "spec.nodeName"
)

// WatcherOptions configure a Watcher.
type WatcherOptions struct {
	Client kubernetes.Interface
	// Node is this node's name (spec.nodeName of its pods).
	Node string
	// Wait is how long a request from an unknown address waits for its
	// pod (default 1 s, max 1 s).
	Wait time.Duration
	// Grace is how long the last known mapping is used while the API
	// server is unreachable (default 5 min).
	Grace time.Duration
	// Heartbeat is how often the API server is asked, so that its loss is
	// seen even when no pod changes (default 10 s).
	Heartbeat time.Duration
	Logger    *slog.Logger
	// Now is the clock of LastContact and the grace (default time.Now).
	Now func() time.Time
}

// WatcherStatus is the Watcher's health, for status and readiness.
type WatcherStatus struct {
	Synced      bool
	Pods        int
	LastContact time.Time
	Stale       bool
	// Err is the last error talking to the API server, "" after a success.
	Err string
}

// Watcher knows the pods of this node by address, and the namespaces'
// annotations, from informers on the API server.
type Watcher struct {
	o      WatcherOptions
	log    *slog.Logger
	pods   cache.SharedIndexInformer
	nss    cache.SharedIndexInformer
	events *eventSink
	// after is the wait's timer (time.After; a test's channel).
	after func(time.Duration) <-chan time.Time

	mu      sync.Mutex
	idx     *index
	waits   map[netip.Addr]*addrWait
	subs    []func(PodEvent)
	contact time.Time
	lastErr string
}

// NewWatcher checks o and builds a Watcher; Run starts it.
func NewWatcher(o WatcherOptions) (*Watcher, error) {
	if o.Client == nil {
		return nil, errors.New("kube watcher: no Kubernetes client")
	}
	if o.Node == "" {
		return nil, errors.New("kube watcher: no node name: set --node-name or NODE_NAME from the downward API (spec.nodeName)")
	}
	switch {
	case o.Wait == 0:
		o.Wait = DefaultWait
	case o.Wait < 0 || o.Wait > MaxWait:
		return nil, fmt.Errorf("kube watcher: wait %s out of range: use 0 < wait <= %s (a longer wait outlasts the SDKs' own timeouts)", o.Wait, MaxWait)
	}
	switch {
	case o.Grace == 0:
		o.Grace = DefaultGrace
	case o.Grace < 0:
		return nil, fmt.Errorf("kube watcher: grace %s is negative: use a positive duration", o.Grace)
	}
	switch {
	case o.Heartbeat == 0:
		o.Heartbeat = DefaultHeartbeat
	case o.Heartbeat < 0:
		return nil, fmt.Errorf("kube watcher: heartbeat %s is negative: use a positive duration", o.Heartbeat)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	w := &Watcher{o: o, log: o.Logger, idx: newIndex(), waits: map[netip.Addr]*addrWait{}, after: time.After}
	w.events = newEventSink(o.Client, o.Node, o.Now, o.Logger)

	sel := fields.OneTermEqualSelector(nodeField, o.Node).String()
	podLW := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, lo metav1.ListOptions) (runtime.Object, error) {
			lo.FieldSelector = sel
			l, err := o.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, lo)
			w.contacted(err)
			return l, err
		},
		WatchFuncWithContext: func(ctx context.Context, lo metav1.ListOptions) (watch.Interface, error) {
			lo.FieldSelector = sel
			wi, err := o.Client.CoreV1().Pods(metav1.NamespaceAll).Watch(ctx, lo)
			w.contacted(err)
			return wi, err
		},
	}
	nsLW := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, lo metav1.ListOptions) (runtime.Object, error) {
			l, err := o.Client.CoreV1().Namespaces().List(ctx, lo)
			w.contacted(err)
			return l, err
		},
		WatchFuncWithContext: func(ctx context.Context, lo metav1.ListOptions) (watch.Interface, error) {
			wi, err := o.Client.CoreV1().Namespaces().Watch(ctx, lo)
			w.contacted(err)
			return wi, err
		},
	}
	w.pods = cache.NewSharedIndexInformer(podLW, &corev1.Pod{}, 0, cache.Indexers{})
	w.nss = cache.NewSharedIndexInformer(nsLW, &corev1.Namespace{}, 0, cache.Indexers{})
	for _, inf := range []cache.SharedIndexInformer{w.pods, w.nss} {
		if err := inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
			w.contacted(err)
		}); err != nil {
			return nil, fmt.Errorf("kube watcher: watch error handler: %w", err)
		}
	}
	if err := w.pods.SetTransform(slimPod); err != nil {
		return nil, fmt.Errorf("kube watcher: pod transform: %w", err)
	}
	if err := w.nss.SetTransform(slimNamespace); err != nil {
		return nil, fmt.Errorf("kube watcher: namespace transform: %w", err)
	}
	if _, err := w.pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.onPod(obj, false) },
		UpdateFunc: func(_, obj any) { w.onPod(obj, false) },
		DeleteFunc: func(obj any) { w.onPod(obj, true) },
	}); err != nil {
		return nil, fmt.Errorf("kube watcher: pod handler: %w", err)
	}
	return w, nil
}

// Run runs the informers, the heartbeat and the Event writer until ctx
// ends, then stops them all and returns nil.
func (w *Watcher) Run(ctx context.Context) error {
	w.mu.Lock()
	if w.contact.IsZero() {
		w.contact = w.o.Now() // the grace runs from the start
	}
	w.mu.Unlock()
	var wg sync.WaitGroup
	for _, f := range []func(context.Context){w.pods.RunWithContext, w.nss.RunWithContext, w.heartbeat, w.events.run} {
		wg.Go(func() { f(ctx) })
	}
	w.log.Info("kubernetes watcher started", "node", w.o.Node)
	<-ctx.Done()
	wg.Wait()
	return nil
}

// Synced reports whether both informers have their initial lists.
func (w *Watcher) Synced() bool { return w.pods.HasSynced() && w.nss.HasSynced() }

// onPod applies an informer event to the index, wakes the requests waiting
// for its addresses and tells the subscribers.
func (w *Watcher) onPod(obj any, deleted bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	kp, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	p := podFrom(kp)
	w.mu.Lock()
	if deleted {
		w.idx.remove(p.Key())
	} else {
		w.idx.set(p)
		for _, a := range p.IPs {
			if wt, ok := w.waits[a]; ok {
				if _, owned := w.idx.owner(a); owned {
					wt.wake()
				}
			}
		}
	}
	w.contact = w.o.Now()
	subs := w.subs
	w.mu.Unlock()
	for _, fn := range subs {
		fn(PodEvent{Pod: p, Deleted: deleted})
	}
}

// contacted records the outcome of a call to the API server.
func (w *Watcher) contacted(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			w.lastErr = err.Error()
		}
		return
	}
	w.contact = w.o.Now()
	w.lastErr = ""
}

// heartbeat asks the API server for this node's pods (at most one) every
// Heartbeat, so an outage is seen even when nothing changes.
func (w *Watcher) heartbeat(ctx context.Context) {
	t := time.NewTicker(w.o.Heartbeat)
	defer t.Stop()
	sel := fields.OneTermEqualSelector(nodeField, w.o.Node).String()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c, cancel := context.WithTimeout(ctx, min(listTimeout, w.o.Heartbeat))
		_, err := w.o.Client.CoreV1().Pods(metav1.NamespaceAll).List(c, metav1.ListOptions{FieldSelector: sel, Limit: 1})
		cancel()
		if ctx.Err() != nil {
			return
		}
		w.mu.Lock()
		wasOK := w.lastErr == ""
		w.mu.Unlock()
		switch {
		case err != nil && wasOK:
			w.log.Warn("kubernetes API server unreachable: serving the last known pods for the grace period", "grace", w.o.Grace, "err", err)
		case err == nil && !wasOK:
			w.log.Info("kubernetes API server reachable again")
		}
		w.contacted(err)
	}
}

// stale reports whether the API server has been out of reach longer than
// the grace period.
func (w *Watcher) stale() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.staleLocked()
}

func (w *Watcher) staleLocked() bool {
	return !w.contact.IsZero() && w.o.Now().Sub(w.contact) > w.o.Grace
}

// Pod is the pod namespace/name of this node, if known.
func (w *Watcher) Pod(namespace, name string) (Pod, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.idx.pods[namespace+"/"+name]
	if !ok {
		return Pod{}, false
	}
	return e.pod, true
}

// NamespaceAnnotations are the annotations of namespace ns, if known.
func (w *Watcher) NamespaceAnnotations(ns string) (map[string]string, bool) {
	obj, ok, err := w.nss.GetStore().GetByKey(ns)
	if err != nil || !ok {
		return nil, false
	}
	n, ok := obj.(*corev1.Namespace)
	if !ok {
		return nil, false
	}
	return n.Annotations, true
}

// Pods are the pods of this node, sorted by namespace/name.
func (w *Watcher) Pods() []Pod {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.idx.list()
}

// Subscribe calls fn on every add, update and delete of a pod of this
// node, in the informer's order. fn must not block.
func (w *Watcher) Subscribe(fn func(PodEvent)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.subs = append(w.subs[:len(w.subs):len(w.subs)], fn)
}

// Status is the Watcher's health.
func (w *Watcher) Status() WatcherStatus {
	synced := w.Synced()
	w.mu.Lock()
	defer w.mu.Unlock()
	return WatcherStatus{
		Synced:      synced,
		Pods:        len(w.idx.pods),
		LastContact: w.contact,
		Stale:       w.staleLocked(),
		Err:         w.lastErr,
	}
}

// Event records a Warning Event on pod p (deduplicated per pod and reason,
// bounded, written in the background), as kiam does for refused roles.
func (w *Watcher) Event(p Pod, reason, message string) { w.events.add(p, reason, message) }
