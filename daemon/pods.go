package daemon

// Kubernetes mode: the pod identity source the daemon uses (package kube's
// Watcher and Reviewer, adapted in cmd/imdsd) and its wiring into the
// access policy's sources.

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/imdsd/imdsd/access"
)

// Pod is a pod of this node as the identity source tells it. Its fields
// are kube.Pod's, so that kube.Pod converts to it.
type Pod struct {
	Namespace, Name, UID, ServiceAccount, Node string
	IPs                                        []netip.Addr
	Annotations                                map[string]string
	HostNetwork                                bool
	Phase                                      string
}

// PodEvent is a pod added, changed or deleted.
type PodEvent struct {
	Pod     Pod
	Deleted bool
}

// PodWatcherStatus is the identity source's state, for status.
type PodWatcherStatus struct {
	Synced      bool
	Pods        int
	LastContact time.Time
	Stale       bool
	Err         string
}

// PodWatcher is the pods of this node (kube.Watcher).
type PodWatcher interface {
	// PodByIP returns the pod that has a, waiting (bounded) for one that
	// is starting; an unknown address or a stale mapping is an error.
	PodByIP(ctx context.Context, a netip.Addr) (Pod, error)
	// Pod returns a pod of this node by namespace and name.
	Pod(namespace, name string) (Pod, bool)
	// NamespaceAnnotations returns a namespace's annotations.
	NamespaceAnnotations(namespace string) (map[string]string, bool)
	// Pods lists the pods of this node.
	Pods() []Pod
	// Subscribe calls f on every pod event, from the informer's goroutine.
	Subscribe(f func(PodEvent))
	Status() PodWatcherStatus
	// Event records a Kubernetes Event on a pod.
	Event(p Pod, reason, message string)
}

// TokenIdentity is what a TokenReview proved of a service-account token.
type TokenIdentity struct {
	Namespace, ServiceAccount, PodName, PodUID, Node string
	Expiry                                           time.Time
}

// ReviewStats count TokenReviews, for status.
type ReviewStats struct {
	Calls, Hits, Rejected int64
}

// TokenReviewer reviews service-account tokens (kube.Reviewer). Review's
// error wraps ErrTokenRejected for a token the API server refused
// (expired, wrong audience, forged, its pod deleted); any other error is
// the review failing.
type TokenReviewer interface {
	Review(ctx context.Context, token string) (TokenIdentity, error)
	Stats() ReviewStats
}

// ErrTokenRejected is the error a TokenReviewer's refusals wrap (the
// adapter of kube.ErrTokenRejected).
var ErrTokenRejected = errors.New("service-account token rejected")

// kubeMode is the daemon's Kubernetes mode, set by SetKubernetes.
type kubeMode struct {
	watcher  PodWatcher
	reviewer TokenReviewer // nil: no Pod Identity endpoint
	pool     *podPool
	counts   podCounters
}

// SetKubernetes makes the pods of this node a source of caller identity
// and starts prefetching their roles on pod events; reviewer (nil for
// none) backs the Pod Identity endpoint. Call it before Run and serving.
func (o *Daemon) SetKubernetes(w PodWatcher, reviewer TokenReviewer) {
	cfg := o.cfg.Load()
	k := &kubeMode{watcher: w, reviewer: reviewer,
		pool: newPodPool(cfg.Kubernetes.MaxRoles, cfg.Kubernetes.PrefetchGrace, o.now, o.log, o.observeFetch)}
	o.sources.src.Pod = func(ctx context.Context, a netip.Addr) (access.Pod, error) {
		p, err := w.PodByIP(ctx, a)
		if err != nil {
			return access.Pod{}, err
		}
		if p.HostNetwork {
			// A hostNetwork pod shares the node's addresses: an address
			// never proves one (only its token does).
			return access.Pod{}, errHostNetworkByIP
		}
		return k.accessPod(p), nil
	}
	k.pool.sched = o.sched
	o.kube.Store(k)
	w.Subscribe(o.podEvent)
}

var errHostNetworkByIP = errors.New("the address is a hostNetwork pod's, which is the node's: only its token identifies it")

// accessPod is the policy's view of a pod, with its namespace's
// annotations.
func (k *kubeMode) accessPod(p Pod) access.Pod {
	ns, ok := k.watcher.NamespaceAnnotations(p.Namespace)
	return access.Pod{Namespace: p.Namespace, Name: p.Name, UID: p.UID, ServiceAccount: p.ServiceAccount, Node: p.Node,
		Annotations: p.Annotations, NamespaceAnnotations: ns, NamespaceKnown: ok, HostNetwork: p.HostNetwork}
}

// podRefused records a policy refusal as an Event on the pod.
func (o *Daemon) podRefused(p access.Pod, reason, message string) {
	k := o.kube.Load()
	if k == nil {
		return
	}
	if pod, ok := k.watcher.Pod(p.Namespace, p.Name); ok && pod.UID == p.UID {
		k.watcher.Event(pod, reason, message)
	}
}
