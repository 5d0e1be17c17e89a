package access

import (
	"context"
	"fmt"
)

// Pod is what the Kubernetes identity source tells of a pod: the fields
// the pod step of the policy reads.
type Pod struct {
	Namespace      string
	Name           string
	UID            string
	ServiceAccount string
	Node           string
	// Annotations are the pod's (iam.amazonaws.com/role, ...).
	Annotations map[string]string
	// NamespaceAnnotations are its namespace's (allowed-roles, permitted);
	// NamespaceKnown is false while the namespace is not known yet.
	NamespaceAnnotations map[string]string
	NamespaceKnown       bool
	// HostNetwork pods share the node's addresses: they are never found
	// by address, only by a service-account token.
	HostNetwork bool
}

// String names the pod as namespace/name, for logs and audit lines.
func (p Pod) String() string { return p.Namespace + "/" + p.Name }

// SetPod records the pod a caller was proven to be by other means than
// its address (a TokenReview of its service-account token). Such a
// caller is decided by the pod step alone, even from a node address (a
// hostNetwork pod): the host's grants and default never apply to it.
func (c *Caller) SetPod(p Pod) {
	c.pod, c.podErr, c.podDone, c.podByToken = p, nil, true, true
}

// IsPod reports whether the caller is taken for a pod: its pod was set by
// token, or it is not on this host (nor on a container bridge) while pod
// lookups are on.
func (c *Caller) IsPod() bool {
	return c.podByToken || (!c.IsLocal() && !c.OnBridge && c.src.Pod != nil)
}

// Pod returns the caller's pod. An address the source does not know (yet)
// is ErrNotYetIdentified: the caller is refused, never given a default.
func (c *Caller) Pod(ctx context.Context) (Pod, error) {
	if !c.podDone {
		c.podDone = true
		if c.src.Pod == nil {
			c.podErr = fmt.Errorf("%w: %s: pod lookups are off", ErrNotYetIdentified, c.Remote.Addr())
		} else if p, err := c.src.Pod(ctx, c.Remote.Addr()); err != nil {
			c.podErr = fmt.Errorf("%w: pod at %s: %w", ErrNotYetIdentified, c.Remote.Addr(), err)
		} else {
			c.pod = p
		}
	}
	return c.pod, c.podErr
}

// PodName returns namespace/name of the caller's pod when it was found,
// for status and the audit line.
func (c *Caller) PodName() string {
	if c.podDone && c.podErr == nil {
		return c.pod.String()
	}
	return ""
}

// KnownPod returns the caller's pod when it was found.
func (c *Caller) KnownPod() (Pod, bool) { return c.pod, c.podDone && c.podErr == nil }
