package access

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// Policy is the caller→role policy, in the order doc.go documents.
type Policy struct {
	// Grants give local processes a role: units:, then user_roles:.
	Grants []Rule
	// Gated turns the user gate on: a local process no grant matched must
	// match one of Allow (allow_uids, allow_groups) or gets no role.
	Gated bool
	Allow []Rule
	// Clients are the clients: rules.
	Clients []Rule
	// LabelKey is the container label that names a role (imdsd.role).
	LabelKey string
	// ContainerDefault is the role of a container without the label: ""
	// or None for none.
	ContainerDefault string
	// Pods are the pod step's settings (Kubernetes mode).
	Pods PodRules
	// PodRefused, when set, learns once per pod and role asked that a pod
	// was refused its annotation's role, and why (a Kubernetes Event).
	PodRefused func(p Pod, reason, message string)
	Logger     *slog.Logger

	patterns patterns // the namespaces' compiled regexps
	warnMu   sync.Mutex
	warned   map[string]bool // container ID + label already logged as refused
}

// maxWarned bounds the refused-label log memory.
const maxWarned = 1024

// Decide returns the role c may have: a served role's name, or for a pod
// whose annotation names it, the role's ARN (Grant tells which). def is
// the default role (the host's), served reports whether the daemon serves
// a role name. A refusal wraps ErrNoRole, ErrUnidentified or
// ErrNotYetIdentified and says which rule or step refused.
func (p *Policy) Decide(ctx context.Context, c *Caller, def string, served func(string) bool) (string, error) {
	g, err := p.Grant(ctx, c, def, served)
	return g.Role, err
}

// Grant is Decide with the whole decision: whether the role is one served
// by name or a pod's role by ARN, and its session parameters.
func (p *Policy) Grant(ctx context.Context, c *Caller, def string, served func(string) bool) (Grant, error) {
	if c.podByToken {
		return p.podGrant(ctx, c, served)
	}
	if c.IsLocal() {
		for _, r := range p.Grants {
			ok, err := r.match(ctx, c, p.LabelKey)
			if err != nil {
				return Grant{}, fmt.Errorf("%s: %w", r.From, err)
			}
			if ok {
				return p.grantNamed(r.Role, r.From, served)
			}
		}
		if p.Gated {
			if err := p.gate(ctx, c); err != nil {
				return Grant{}, err
			}
		}
	}
	if c.IsPod() {
		return p.podGrant(ctx, c, served)
	}
	for _, r := range p.Clients {
		ok, err := r.match(ctx, c, p.LabelKey)
		if err != nil {
			return Grant{}, fmt.Errorf("%s: %w", r.From, err)
		}
		if ok {
			return p.grantNamed(r.Role, r.From, served)
		}
	}
	switch {
	case c.IsLocal():
		return Grant{Role: def, From: "default role"}, nil
	case !c.IsContainer():
		return Grant{}, fmt.Errorf("%w: %s is not on this host and no rule gives it a role", ErrNoRole, c.Remote.Addr())
	}
	name, err := p.container(ctx, c, served)
	return Grant{Role: name, From: "container"}, err
}

// grantNamed is named as a Grant.
func (p *Policy) grantNamed(role, from string, served func(string) bool) (Grant, error) {
	name, err := p.named(role, from, served)
	return Grant{Role: name, From: from}, err
}

// gate lets a local process through when its uid is allowed.
func (p *Policy) gate(ctx context.Context, c *Caller) error {
	for _, r := range p.Allow {
		ok, err := r.match(ctx, c, p.LabelKey)
		if err != nil {
			return fmt.Errorf("%s: %w", r.From, err)
		}
		if ok {
			return nil
		}
	}
	uid, err := c.UID()
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: uid %d has no user_roles entry and is in neither allow_uids nor allow_groups", ErrNoRole, uid)
}

// container decides a container's role by its label, else the default.
func (p *Policy) container(ctx context.Context, c *Caller, served func(string) bool) (string, error) {
	ct, err := c.Container(ctx)
	if err != nil {
		return "", err
	}
	want, ok := ct.Labels[p.LabelKey]
	if !ok {
		return p.named(p.ContainerDefault, "containers.default_role", served)
	}
	if want != None && !served(want) {
		p.warnUnknown(ct, want)
	}
	return p.named(want, "label "+p.LabelKey, served)
}

// named returns a rule's role when the daemon serves it.
func (p *Policy) named(role, from string, served func(string) bool) (string, error) {
	if role == "" || role == None {
		return "", fmt.Errorf("%w: %s gives none", ErrNoRole, from)
	}
	if !served(role) {
		return "", fmt.Errorf("%w: %s names %q, which this daemon does not serve", ErrNoRole, from, role)
	}
	return role, nil
}

// warnUnknown logs, once per container and label, that a container asked
// for a role the config does not offer.
func (p *Policy) warnUnknown(ct Container, want string) {
	key := ct.ID + "\x00" + want
	p.warnMu.Lock()
	if p.warned == nil || len(p.warned) >= maxWarned {
		p.warned = map[string]bool{}
	}
	seen := p.warned[key]
	p.warned[key] = true
	p.warnMu.Unlock()
	if !seen && p.Logger != nil {
		p.Logger.Warn("container refused: its label names a role the config does not offer",
			"container", ct.Name, "id", shortID(ct.ID), "label", p.LabelKey+"="+want)
	}
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
