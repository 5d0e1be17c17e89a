package daemon

// Serving and prefetching the roles of pods.

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/imdsd/imdsd/access"
	"github.com/imdsd/imdsd/imds"
)

// podFirstFetchWait bounds how long a pod's request waits for the first
// fetch of a role no prefetch started (its pod event not seen yet): less
// than the SDKs' one second, and the answer is 503 (retried) after it.
const podFirstFetchWait = 500 * time.Millisecond

// podCredentials serves a pod's role by ARN from the pool.
func (o *Daemon) podCredentials(ctx context.Context, g access.Grant, caller *access.Caller) (imds.Role, error) {
	k := o.kube.Load()
	pod, ok := caller.KnownPod()
	if k == nil || !ok {
		return imds.Role{}, fmt.Errorf("%w: a pod's role without kubernetes mode", imds.ErrNoRole)
	}
	e, fresh, err := k.pool.acquire(ctx, podDef(o.cfg.Load(), g, pod), pod.UID)
	if err != nil {
		return imds.Role{}, err
	}
	if fresh {
		e.waitFetched(ctx, podFirstFetchWait)
	}
	return roleCredentials(e), nil
}

// podEvent prefetches the role of a pod that appeared or changed, and
// lets go of the role of one deleted or changed.
func (o *Daemon) podEvent(ev PodEvent) {
	k := o.kube.Load()
	if k == nil {
		return
	}
	p := ev.Pod
	if ev.Deleted || p.Phase == "Succeeded" || p.Phase == "Failed" {
		k.pool.release(p.UID)
		return
	}
	set := o.set.Load()
	c := access.NewCaller(netip.AddrPort{}, netip.AddrPort{}, false, &o.sources.src)
	ap := k.accessPod(p)
	c.SetPod(ap)
	g, err := o.policy.Load().Grant(context.Background(), c, o.defaultRole(set), set.has)
	if err != nil || !g.ByARN {
		k.pool.release(p.UID)
		return
	}
	ctx := context.Background()
	if _, _, err := k.pool.acquire(ctx, podDef(o.cfg.Load(), g, ap), p.UID); err != nil && !errors.Is(err, ErrPoolFull) {
		o.log.Warn("pod role not prefetched", "namespace", p.Namespace, "pod", p.Name, "err", err)
	}
}
