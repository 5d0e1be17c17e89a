package daemon

// The caller→role policy of the config (package access decides; this
// file only translates the config into its terms and wires the sources).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/imdsd/imdsd/access"
	"github.com/imdsd/imdsd/config"
	"github.com/imdsd/imdsd/containers"
	"github.com/imdsd/imdsd/imds"
	"github.com/imdsd/imdsd/peercred"
)

// newPolicy builds the policy of cfg for the roles served; an unknown user
// or group, or a rule naming a role not served, is an error.
func newPolicy(cfg config.Config, served []string, db access.UserDB, log *slog.Logger) (*access.Policy, error) {
	u := cfg.Security.Users
	spec := access.Spec{
		AllowUIDs:        u.AllowUIDs,
		AllowGroups:      u.AllowGroups,
		LabelKey:         config.ContainerRoleLabel,
		ContainerDefault: cfg.Containers.DefaultRole,
		Logger:           log,
		Pods: access.PodRules{
			BaseARN:  cfg.Kubernetes.BaseRoleARN,
			Restrict: cfg.Kubernetes.NamespaceRestrictions,
			Format:   cfg.Kubernetes.NamespaceRestrictionFormat,
			Default:  cfg.Kubernetes.DefaultRole,
		},
	}
	for _, ur := range u.Units {
		spec.Units = append(spec.Units, access.UnitGrant{Unit: ur.Unit, Role: ur.Role})
	}
	for _, ur := range u.UserRoles {
		spec.UserRoles = append(spec.UserRoles, access.UserGrant{User: ur.User, Group: ur.Group, Role: ur.Role})
	}
	for i, r := range cfg.Clients {
		spec.Clients = append(spec.Clients, access.Rule{From: fmt.Sprintf("clients[%d]", i), CIDR: r.CIDR, ContainerLabel: r.ContainerLabel,
			Namespace: r.Namespace, ServiceAccount: r.ServiceAccount, Role: r.Role})
	}
	return access.Compile(spec, served, db)
}

// callerSources are the identity sources of this daemon. Containers and
// onBridge are set by startContainers before anything is served.
type callerSources struct {
	src      access.Sources
	onBridge func(netip.Addr) bool
}

func newCallerSources() *callerSources {
	s := &callerSources{}
	if peercred.Supported {
		s.src.UID = peercred.UID
	}
	if access.UnitSupported {
		s.src.Unit = access.NewUnitFinder().Unit
	}
	groups := &access.GroupCache{DB: access.SystemUsers{}, TTL: time.Minute, Now: time.Now}
	s.src.Groups = groups.Groups
	return s
}

// SetContainers makes the container engines a source of caller identity;
// onBridge reports whether a local address is a container bridge
// listener's. Call it before serving.
func (o *Daemon) SetContainers(r *containers.Resolver, onBridge func(netip.Addr) bool) {
	s := o.sources
	s.src.Container = func(ctx context.Context, a netip.Addr) (access.Container, error) {
		ct, err := r.Lookup(ctx, a)
		if err != nil {
			return access.Container{}, err
		}
		return access.Container{ID: ct.ID, Name: ct.Name, Labels: ct.Labels}, nil
	}
	s.onBridge = onBridge
}

// caller is the access view of an imds caller.
func (s *callerSources) caller(c imds.Caller) *access.Caller {
	onBridge := s.onBridge != nil && s.onBridge(c.Local.Addr())
	ac := access.NewCaller(c.Remote, c.Local, onBridge, &s.src)
	if c.HasUID {
		ac.SetUID(c.UID)
	}
	return ac
}

// imdsError maps a refusal to what imds answers: 404 for no role, 403 for
// a local process that cannot be identified, 503 for a container not
// identified yet.
func imdsError(err error) error {
	switch {
	case errors.Is(err, access.ErrNoRole):
		return fmt.Errorf("%w: %w", imds.ErrNoRole, err)
	case errors.Is(err, access.ErrUnidentified):
		return fmt.Errorf("%w: %w", imds.ErrForbidden, err)
	}
	return err
}
