package main

// Which role a caller gets. The daemon's source (ops.Credentials) asks the
// clientRouter first; it answers from the client rules, the container
// engines and the caller's addresses:
//
//   - a client rule (clients:) that matches names the role, or none;
//   - a container (a caller that came in on a container bridge listener,
//     or any caller that is not on this host while containers are on) gets
//     the role its label imdsd.role names, when roles: has it; an unknown
//     name is refused and logged; no label gets containers.default_role
//     (none unless set);
//   - a caller on this host (loopback, or a local address) gets the host's
//     role: the flat role, or the one chosen with `imdsd use`;
//   - any other caller (a VM, a neighbour, a container reaching a
//     link_local address while containers are off) gets none unless a
//     rule gives it a role.
//
// A container whose identity cannot be established (engine away, address
// not yet listed) gets an error, never a default: the host's role must not
// leak to a container through a race at start or a cache miss (kube2iam
// #46, #136, #170).

import (
	"context"
	"errors"
	"fmt"
	"github.com/imdsd/imdsd/config"
	"log/slog"
	"net/netip"
	"sync"

	"github.com/imdsd/imdsd/containers"
	"github.com/imdsd/imdsd/imds"
)

// containerFinder finds the container of an address (containers.Resolver).
type containerFinder interface {
	Lookup(ctx context.Context, addr netip.Addr) (containers.Container, error)
}

// errNotIdentified is the reason a container caller is refused while its
// identity is unknown.
var errNotIdentified = errors.New("container not identified")

// clientRouter decides a caller's role by the rules of the config.
type clientRouter struct {
	log *slog.Logger
	// finder is nil when containers are off.
	finder containerFinder
	// onBridge reports whether a local address is one of the container
	// bridge listeners' (the caller is a container).
	onBridge func(netip.Addr) bool

	warnMu sync.Mutex
	warned map[string]bool // container ID + label already logged as refused
}

// maxWarned bounds the refused-label log memory.
const maxWarned = 1024

// route returns the role name for c: the host's role name def when the
// caller is on this host and no rule says otherwise. An error wraps
// imds.ErrNoRole (no role: 404) or says why the caller is not identified.
// has reports whether a role name is served. container names the caller's
// container when the route had to identify it (for status and the audit
// line), so nobody looks it up a second time.
func (r *clientRouter) route(ctx context.Context, c imds.Caller, cfg *config.Config, def string, has func(string) bool) (role, container string, err error) {
	remote := c.Remote.Addr()
	host := remote.IsLoopback() || remote == c.Local.Addr()
	isContainer := (r.onBridge != nil && r.onBridge(c.Local.Addr())) || (!host && r.finder != nil)
	var ident *containers.Container
	name := func() string {
		if ident == nil {
			return ""
		}
		return ident.Name
	}
	identify := func() (*containers.Container, error) {
		if ident != nil {
			return ident, nil
		}
		if r.finder == nil {
			return nil, fmt.Errorf("%w: %s: container lookups are off", errNotIdentified, remote)
		}
		ct, err := r.finder.Lookup(ctx, remote)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errNotIdentified, err)
		}
		ident = &ct
		return ident, nil
	}
	for _, rule := range cfg.Clients {
		ok, err := matches(rule, remote, isContainer, identify)
		if err != nil {
			return "", "", err
		}
		if ok {
			role, err := r.named(rule.Role, has)
			return role, name(), err
		}
	}
	if host {
		return def, "", nil
	}
	if !isContainer {
		return "", "", imds.ErrNoRole
	}
	ct, err := identify()
	if err != nil {
		return "", "", err
	}
	want, ok := ct.Label(config.ContainerRoleLabel)
	if !ok {
		role, err := r.named(cfg.Containers.DefaultRole, has)
		return role, ct.Name, err
	}
	if want == config.RoleNone || !has(want) {
		if want != config.RoleNone {
			r.warnUnknown(ct, want)
		}
		return "", ct.Name, imds.ErrNoRole
	}
	return want, ct.Name, nil
}

// matches reports whether every condition of rule holds for the caller.
func matches(rule config.ClientRule, remote netip.Addr, container bool, identify func() (*containers.Container, error)) (bool, error) {
	if rule.CIDR.IsValid() && !rule.CIDR.Contains(remote) {
		return false, nil
	}
	if rule.ContainerLabel != "" {
		if !container {
			return false, nil
		}
		ct, err := identify()
		if err != nil {
			return false, err
		}
		if v, ok := ct.Label(config.ContainerRoleLabel); !ok || v != rule.ContainerLabel {
			return false, nil
		}
	}
	return true, nil
}

// named returns a rule's role.
func (r *clientRouter) named(role string, has func(string) bool) (string, error) {
	if role == config.RoleNone || !has(role) {
		return "", imds.ErrNoRole
	}
	return role, nil
}

// warnUnknown logs, once per container and label, that a container asked
// for a role the config does not offer.
func (r *clientRouter) warnUnknown(ct *containers.Container, want string) {
	key := ct.ID + "\x00" + want
	r.warnMu.Lock()
	if r.warned == nil || len(r.warned) >= maxWarned {
		r.warned = map[string]bool{}
	}
	seen := r.warned[key]
	r.warned[key] = true
	r.warnMu.Unlock()
	if !seen {
		r.log.Warn("container refused: its label names a role the config does not offer",
			"container", ct.Name, "id", shortID(ct.ID), "label", config.ContainerRoleLabel+"="+want)
	}
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// callerRole returns the name of the role c gets from set, and the name of
// c's container when it is one.
func (o *ops) callerRole(ctx context.Context, c imds.Caller, set *roleSet) (role, container string, err error) {
	r := o.router
	if r == nil {
		r = &clientRouter{log: o.log}
	}
	return r.route(ctx, c, o.cfg.Load(), o.defaultRole(set), set.has)
}
