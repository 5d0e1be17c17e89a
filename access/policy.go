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
	Logger           *slog.Logger

	warnMu sync.Mutex
	warned map[string]bool // container ID + label already logged as refused
}

// maxWarned bounds the refused-label log memory.
const maxWarned = 1024

// Decide returns the name of the role c may have: def is the default role
// (the host's), served reports whether the daemon serves a role name. A
// refusal wraps ErrNoRole, ErrUnidentified or ErrNotYetIdentified and says
// which rule or step refused.
func (p *Policy) Decide(ctx context.Context, c *Caller, def string, served func(string) bool) (string, error) {
	if c.IsLocal() {
		for _, r := range p.Grants {
			ok, err := r.match(ctx, c, p.LabelKey)
			if err != nil {
				return "", fmt.Errorf("%s: %w", r.From, err)
			}
			if ok {
				return p.named(r.Role, r.From, served)
			}
		}
		if p.Gated {
			if err := p.gate(ctx, c); err != nil {
				return "", err
			}
		}
	}
	for _, r := range p.Clients {
		ok, err := r.match(ctx, c, p.LabelKey)
		if err != nil {
			return "", fmt.Errorf("%s: %w", r.From, err)
		}
		if ok {
			return p.named(r.Role, r.From, served)
		}
	}
	switch {
	case c.IsLocal():
		return def, nil
	case !c.IsContainer():
		return "", fmt.Errorf("%w: %s is not on this host and no rule gives it a role", ErrNoRole, c.Remote.Addr())
	}
	return p.container(ctx, c, served)
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
