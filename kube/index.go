package kube

import (
	"net/netip"
	"slices"
	"strings"
)

// index maps addresses to the pods of this node. An address can be claimed
// by more than one pod in the index at once: a finished pod keeps its
// podIPs in the API, and an informer can see a new pod with a reused
// address before the delete of the old one. The owner is decided by the
// newest pod, never by the order of arrival alone:
//
//   - hostNetwork pods own no address (they share the node's);
//   - finished pods (Succeeded, Failed) own none;
//   - of the rest, the pod with the newest creationTimestamp owns it;
//   - at the same second (the timestamp's resolution), the pod that
//     claimed it last in the API's event order owns it.
//
// A deleted pod leaves the index on its delete event.
type index struct {
	pods map[string]*indexed // by Pod.Key
	byIP map[netip.Addr][]string
	seq  uint64
}

type indexed struct {
	pod   Pod
	claim uint64 // when the pod's addresses last changed, in event order
}

func newIndex() *index {
	return &index{pods: map[string]*indexed{}, byIP: map[netip.Addr][]string{}}
}

// set adds or updates p.
func (x *index) set(p Pod) {
	k := p.Key()
	old, ok := x.pods[k]
	x.seq++
	e := &indexed{pod: p, claim: x.seq}
	if ok {
		if slices.Equal(old.pod.IPs, p.IPs) {
			e.claim = old.claim
		}
		x.unlink(k, old.pod.IPs)
	}
	x.pods[k] = e
	for _, a := range p.IPs {
		x.byIP[a] = append(x.byIP[a], k)
	}
}

// remove deletes the pod key; it reports whether it was there.
func (x *index) remove(key string) (Pod, bool) {
	e, ok := x.pods[key]
	if !ok {
		return Pod{}, false
	}
	delete(x.pods, key)
	x.unlink(key, e.pod.IPs)
	return e.pod, true
}

func (x *index) unlink(key string, ips []netip.Addr) {
	for _, a := range ips {
		ks := slices.DeleteFunc(x.byIP[a], func(s string) bool { return s == key })
		if len(ks) == 0 {
			delete(x.byIP, a)
		} else {
			x.byIP[a] = ks
		}
	}
}

// owner is the pod that owns address a, by the rules above.
func (x *index) owner(a netip.Addr) (Pod, bool) {
	var best *indexed
	for _, k := range x.byIP[a.Unmap()] {
		e := x.pods[k]
		if e.pod.HostNetwork || e.pod.Terminal() {
			continue
		}
		if best == nil || newer(e, best) {
			best = e
		}
	}
	if best == nil {
		return Pod{}, false
	}
	return best.pod, true
}

func newer(a, b *indexed) bool {
	if !a.pod.Created.Equal(b.pod.Created) {
		return a.pod.Created.After(b.pod.Created)
	}
	return a.claim > b.claim
}

// list is every pod, sorted by namespace/name.
func (x *index) list() []Pod {
	out := make([]Pod, 0, len(x.pods))
	for _, e := range x.pods {
		out = append(out, e.pod)
	}
	slices.SortFunc(out, func(a, b Pod) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}
