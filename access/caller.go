package access

import (
	"context"
	"fmt"
	"net/netip"
)

// Container is what the container engines tell of a container.
type Container struct {
	ID     string
	Name   string
	Labels map[string]string
}

// Sources look up what a connection's addresses do not tell. A nil source
// is a lookup this daemon cannot make (containers off; no peer uid on this
// OS).
type Sources struct {
	// UID returns the uid owning the client socket of a local connection.
	UID func(remote, local netip.AddrPort) (int, error)
	// Unit returns the systemd system unit of the process holding the
	// client socket ("" when it runs in none, e.g. in a user's session).
	Unit func(remote, local netip.AddrPort) (string, error)
	// Groups returns a uid's groups (primary and supplementary).
	Groups func(uid int) []int
	// Container returns the container that has addr.
	Container func(ctx context.Context, addr netip.Addr) (Container, error)
	// Pod returns the pod that has addr (Kubernetes mode); an address no
	// pod is known to have yet is an error.
	Pod func(ctx context.Context, addr netip.Addr) (Pod, error)
}

// Caller is one request's caller. Each attribute is looked up at most once
// per request, and only when a rule asks for it.
type Caller struct {
	Remote netip.AddrPort
	Local  netip.AddrPort
	// OnBridge: the request came in on a container bridge listener.
	OnBridge bool

	src *Sources

	uidDone, unitDone, ctDone bool
	uid                       int
	uidErr                    error
	unit                      string
	unitErr                   error
	ct                        Container
	ctErr                     error
	groups                    []int
	groupsDone                bool

	podDone, podByToken bool
	pod                 Pod
	podErr              error
}

// NewCaller returns the caller of a connection from remote to local.
func NewCaller(remote, local netip.AddrPort, onBridge bool, src *Sources) *Caller {
	if src == nil {
		src = &Sources{}
	}
	return &Caller{Remote: remote, Local: local, OnBridge: onBridge, src: src}
}

// SetUID records a uid already found (by the server, for its audit line).
func (c *Caller) SetUID(uid int) { c.uid, c.uidErr, c.uidDone = uid, nil, true }

// IsLocal reports whether the caller is a process on this host: loopback,
// or from the very address it connected to.
func (c *Caller) IsLocal() bool {
	r := c.Remote.Addr()
	return r.IsLoopback() || r == c.Local.Addr()
}

// UID returns the uid owning the caller's socket.
func (c *Caller) UID() (int, error) {
	if !c.uidDone {
		c.uidDone = true
		if c.src.UID == nil {
			c.uidErr = fmt.Errorf("%w: the uid of %s: peer uids are not supported here", ErrUnidentified, c.Remote)
		} else if uid, err := c.src.UID(c.Remote, c.Local); err != nil {
			c.uidErr = fmt.Errorf("%w: the uid of %s is unknown: %w", ErrUnidentified, c.Remote, err)
		} else {
			c.uid = uid
		}
	}
	return c.uid, c.uidErr
}

// KnownUID returns the uid when it was looked up and found.
func (c *Caller) KnownUID() (int, bool) { return c.uid, c.uidDone && c.uidErr == nil }

// Unit returns the systemd system unit of the caller's process, "" when
// it runs in none.
func (c *Caller) Unit() (string, error) {
	if !c.unitDone {
		c.unitDone = true
		if c.src.Unit == nil {
			c.unitErr = fmt.Errorf("%w: the unit of %s: systemd units are not supported here", ErrUnidentified, c.Remote)
		} else if u, err := c.src.Unit(c.Remote, c.Local); err != nil {
			c.unitErr = fmt.Errorf("%w: the unit of %s is unknown: %w", ErrUnidentified, c.Remote, err)
		} else {
			c.unit = u
		}
	}
	return c.unit, c.unitErr
}

// groupsOf returns the caller's groups (none when its uid is unknown).
func (c *Caller) groupsOf() []int {
	if !c.groupsDone {
		c.groupsDone = true
		if uid, err := c.UID(); err == nil && c.src.Groups != nil {
			c.groups = c.src.Groups(uid)
		}
	}
	return c.groups
}

// IsContainer reports whether the caller is taken for a container: it came
// in on a bridge listener, or it is not on this host while container
// lookups are on and pod lookups are off (with both on, a caller off the
// bridges is a pod).
func (c *Caller) IsContainer() bool {
	return !c.podByToken && (c.OnBridge || (!c.IsLocal() && c.src.Container != nil && c.src.Pod == nil))
}

// Container returns the caller's container.
func (c *Caller) Container(ctx context.Context) (Container, error) {
	if !c.ctDone {
		c.ctDone = true
		if c.src.Container == nil {
			c.ctErr = fmt.Errorf("%w: %s: container lookups are off", ErrNotYetIdentified, c.Remote.Addr())
		} else if ct, err := c.src.Container(ctx, c.Remote.Addr()); err != nil {
			c.ctErr = fmt.Errorf("%w: %w", ErrNotYetIdentified, err)
		} else {
			c.ct = ct
		}
	}
	return c.ct, c.ctErr
}

// ContainerName returns the name of the caller's container when it was
// looked up and found, for status and the audit line.
func (c *Caller) ContainerName() string {
	if c.ctDone && c.ctErr == nil {
		return c.ct.Name
	}
	return ""
}

// UnitName returns the caller's unit when it was looked up and found.
func (c *Caller) UnitName() string {
	if c.unitDone && c.unitErr == nil {
		return c.unit
	}
	return ""
}
