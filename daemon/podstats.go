package daemon

// Kubernetes mode's counts and status: requests per namespace and role,
// refusals per namespace and reason, the pods and their roles.

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/imdsd/imdsd/access"
	"github.com/imdsd/imdsd/control"
)

// maxPodCounters bounds the namespace/role counters; past it they start
// again (namespaces come and go).
const maxPodCounters = 1024

// Refusal reasons, as status shows them.
const (
	refusedNoRole        = "no-role"
	refusedNotIdentified = "not-identified"
	refusedUnidentified  = "unidentified"
	refusedOther         = "other"
)

type nsRole struct{ namespace, role string }

// podCounters count pod requests and refusals.
type podCounters struct {
	mu       sync.Mutex
	requests map[nsRole]int64
	refusals map[nsRole]int64 // role is the reason here
}

func (p *podCounters) add(m *map[nsRole]int64, k nsRole) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if *m == nil || len(*m) >= maxPodCounters {
		*m = map[nsRole]int64{}
	}
	(*m)[k]++
}

// countPodRequest counts a pod's served request.
func (o *Daemon) countPodRequest(c *access.Caller, role string) {
	k := o.kube.Load()
	if p, ok := c.KnownPod(); ok && k != nil {
		k.counts.add(&k.counts.requests, nsRole{p.Namespace, role})
	}
}

// countPodRefusal counts a pod's refusal by reason; a caller whose pod
// was not found counts under namespace "".
func (o *Daemon) countPodRefusal(c *access.Caller, err error) {
	k := o.kube.Load()
	if k == nil || !c.IsPod() {
		return
	}
	p, _ := c.KnownPod()
	k.counts.add(&k.counts.refusals, nsRole{p.Namespace, refusalReason(err)})
}

func refusalReason(err error) string {
	switch {
	case errors.Is(err, access.ErrNoRole):
		return refusedNoRole
	case errors.Is(err, access.ErrNotYetIdentified):
		return refusedNotIdentified
	case errors.Is(err, access.ErrUnidentified):
		return refusedUnidentified
	}
	return refusedOther
}

// kubeStatus is status's kubernetes part; nil when the mode is off.
func (o *Daemon) kubeStatus() *control.KubernetesStatus {
	k := o.kube.Load()
	if k == nil {
		return nil
	}
	cfg := o.cfg.Load()
	ws := k.watcher.Status()
	st := &control.KubernetesStatus{Node: cfg.Kubernetes.Node(os.Getenv), Synced: ws.Synced, Stale: ws.Stale,
		LastContact: ws.LastContact.UTC(), Error: ws.Err, MaxRoles: cfg.Kubernetes.MaxRoles, Pods: []control.PodStatus{}, PodRoles: []control.PodRoleStatus{}}
	if ws.LastContact.IsZero() {
		st.LastContact = time.Time{}
	}
	set, policy := o.set.Load(), o.policy.Load()
	// A refusal is logged and evented once per pod and role (the policy
	// deduplicates), so status's decisions add none the prefetch did not.
	for _, p := range k.watcher.Pods() {
		ps := control.PodStatus{Namespace: p.Namespace, Name: p.Name, ServiceAccount: p.ServiceAccount, HostNetwork: p.HostNetwork, Phase: p.Phase}
		for _, a := range p.IPs {
			ps.IPs = append(ps.IPs, a.String())
		}
		c := access.NewCaller(netip.AddrPort{}, netip.AddrPort{}, false, &o.sources.src)
		c.SetPod(k.accessPod(p))
		if g, err := policy.Grant(context.Background(), c, o.defaultRole(set), set.has); err != nil {
			ps.Refused = err.Error()
		} else {
			ps.Role = g.Role
		}
		st.Pods = append(st.Pods, ps)
	}
	slices.SortFunc(st.Pods, func(a, b control.PodStatus) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	for _, r := range k.pool.snapshot() {
		st.PodRoles = append(st.PodRoles, control.PodRoleStatus{RoleStatus: roleStatus(r.e), SessionName: r.def.SessionName, Pods: r.pods})
	}
	if k.reviewer != nil {
		s := k.reviewer.Stats()
		st.TokenReviews = &control.TokenReviewStats{Calls: s.Calls, Hits: s.Hits, Rejected: s.Rejected}
	}
	st.Namespaces = k.counts.status()
	return st
}

// status lists the counters by namespace, then role.
func (p *podCounters) status() []control.NamespaceStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	byKey := map[nsRole]*control.NamespaceStatus{}
	var out []*control.NamespaceStatus
	get := func(k nsRole) *control.NamespaceStatus {
		if s, ok := byKey[k]; ok {
			return s
		}
		s := &control.NamespaceStatus{Namespace: k.namespace, Role: k.role}
		byKey[k] = s
		out = append(out, s)
		return s
	}
	for k, n := range p.requests {
		get(k).Requests = n
	}
	for k, n := range p.refusals {
		s := get(nsRole{namespace: k.namespace})
		if s.Refusals == nil {
			s.Refusals = map[string]int64{}
		}
		s.Refusals[k.role] = n
	}
	slices.SortFunc(out, func(a, b *control.NamespaceStatus) int {
		return strings.Compare(a.Namespace+"\x00"+a.Role, b.Namespace+"\x00"+b.Role)
	})
	res := make([]control.NamespaceStatus, len(out))
	for i, s := range out {
		res[i] = *s
	}
	return res
}
