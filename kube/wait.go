package kube

import (
	"context"
	"fmt"
	"net/netip"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// addrWait is the one wait for an address the index does not know yet,
// shared by every request from it: the informer's event wakes it (no
// polling), or after Wait it does one direct List of the node's pods.
type addrWait struct {
	appeared chan struct{} // closed by the informer event that makes it known
	once     sync.Once
	done     chan struct{} // closed when pod/err are set
	pod      Pod
	found    bool
	err      error
	joined   int // requests sharing this wait (under Watcher.mu)
}

func (a *addrWait) wake() { a.once.Do(func() { close(a.appeared) }) }

// PodByIP is the pod of this node that owns address a (see index for how
// an address claimed twice is decided). An address not known yet waits at
// most Wait for its pod (one wait shared among concurrent requests), then
// one direct List of the node's pods decides: ErrUnknownPod when no pod
// owns it. hostNetwork pods are never returned by address (they share the
// node's). ErrStale when the API server has been unreachable longer than
// the grace period.
func (w *Watcher) PodByIP(ctx context.Context, a netip.Addr) (Pod, error) {
	a = a.Unmap()
	w.mu.Lock()
	if w.staleLocked() {
		w.mu.Unlock()
		return Pod{}, ErrStale
	}
	if p, ok := w.idx.owner(a); ok {
		w.mu.Unlock()
		return p, nil
	}
	wt, ok := w.waits[a]
	if !ok {
		wt = &addrWait{appeared: make(chan struct{}), done: make(chan struct{})}
		w.waits[a] = wt
		go w.resolve(a, wt)
	}
	wt.joined++
	w.mu.Unlock()

	select {
	case <-wt.done:
	case <-ctx.Done():
		return Pod{}, fmt.Errorf("pod of %s: %w", a, ctx.Err())
	}
	if w.stale() {
		return Pod{}, ErrStale
	}
	if wt.err != nil {
		return Pod{}, wt.err
	}
	if !wt.found {
		return Pod{}, fmt.Errorf("%w: %s on node %s (waited %s and listed the node's pods)", ErrUnknownPod, a, w.o.Node, w.o.Wait)
	}
	return wt.pod, nil
}

// resolve runs the shared wait of address a.
func (w *Watcher) resolve(a netip.Addr, wt *addrWait) {
	select {
	case <-wt.appeared:
	case <-w.after(w.o.Wait):
	}
	w.mu.Lock()
	p, ok := w.idx.owner(a)
	w.mu.Unlock()
	if !ok {
		p, ok, wt.err = w.listOwner(a)
	}
	wt.pod, wt.found = p, ok
	w.mu.Lock()
	delete(w.waits, a) // later requests start a fresh wait
	w.mu.Unlock()
	close(wt.done)
}

// listOwner asks the API server directly (the informer may be behind) for
// the node's pods, and applies the index's rules to them. The result is
// not stored: the informer remains the one source of the index.
func (w *Watcher) listOwner(a netip.Addr) (Pod, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), listTimeout)
	defer cancel()
	sel := fields.OneTermEqualSelector(nodeField, w.o.Node).String()
	l, err := w.o.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: sel})
	w.contacted(err)
	if err != nil {
		return Pod{}, false, fmt.Errorf("list pods of node %s for %s: %w", w.o.Node, a, err)
	}
	x := newIndex()
	for i := range l.Items {
		if l.Items[i].DeletionTimestamp != nil && l.Items[i].DeletionGracePeriodSeconds != nil && *l.Items[i].DeletionGracePeriodSeconds == 0 {
			continue // being removed now
		}
		x.set(podFrom(&l.Items[i]))
	}
	// The informer may have caught up while the List ran: it wins, as it
	// is what later requests will see.
	w.mu.Lock()
	p, ok := w.idx.owner(a)
	w.mu.Unlock()
	if ok {
		return p, true, nil
	}
	p, ok = x.owner(a)
	return p, ok, nil
}
