package main

// ops runs the daemon as a tool: it owns the roles (swapped whole on a
// reload), answers the IMDS server as its Source, counts clients, and serves
// the control API and the metrics.

import (
	"context"
	"errors"
	"fmt"
	"github.com/imdsd/imdsd/access"
	"github.com/imdsd/imdsd/config"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imdsd/imdsd/imds"
	"github.com/imdsd/imdsd/metrics"
	"github.com/imdsd/imdsd/roles"
)

// maxClients bounds the clients remembered for status.
const maxClients = 1024

// reloadFunc reads the configuration again, as at start (file and flags).
type reloadFunc func() (config.Config, error)

// ops is the daemon's operable core.
type ops struct {
	log     *slog.Logger
	now     func() time.Time
	started time.Time
	metrics *metrics.Metrics // nil when metrics_listen is off
	reload  reloadFunc       // nil: reload is refused
	// instanceID is the instance ID the server serves, for status.
	instanceID string

	cfg atomic.Pointer[config.Config]
	set atomic.Pointer[roleSet]
	use atomic.Pointer[string] // the role chosen with `imdsd use`, or nil

	// mu serialises the changes of roles: reload, use, mfa.
	mu         sync.Mutex
	runCtx     context.Context // the refreshers' context, set by run
	reloads    int64
	lastReload time.Time
	reloadErr  string
	listen     []string

	clientsMu sync.Mutex
	clients   map[netip.Addr]*clientSeen

	// sources identify callers for the policy (policy.go); containers
	// are added before serving when they are on.
	sources *callerSources
	// policy decides each caller's role; rebuilt on a reload.
	policy atomic.Pointer[access.Policy]
}

type clientSeen struct {
	uid       int    // -1 when unknown
	container string // the container's name, for a container
	role      string
	requests  int64
	last      time.Time
}

// newOps resolves the roles of cfg and reads the state file. It starts
// nothing and opens no socket.
func newOps(ctx context.Context, cfg config.Config, log *slog.Logger) (*ops, error) {
	o := &ops{log: log, now: time.Now, clients: map[netip.Addr]*clientSeen{}}
	o.started = o.now()
	if cfg.MetricsListen != "" {
		o.metrics = metrics.New(metrics.Options{Roles: o.roleSamples, Clients: o.clientCount, Logger: log})
	}
	set, err := buildSet(ctx, cfg, nil, log, o.observeFetch)
	if err != nil {
		return nil, err
	}
	policy, err := newPolicy(cfg, set.order, access.SystemUsers{}, log)
	if err != nil {
		return nil, err
	}
	o.sources = newCallerSources()
	o.policy.Store(policy)
	o.cfg.Store(&cfg)
	o.set.Store(set)
	o.instanceID = cfg.InstanceID
	if o.instanceID == "" {
		o.instanceID = imds.DefaultInstanceID()
	}
	o.loadState(set)
	return o, nil
}

// loadState applies the role chosen with `imdsd use` before a restart.
func (o *ops) loadState(set *roleSet) {
	name, err := readState(o.stateFile())
	switch {
	case err != nil:
		o.log.Warn("state file unreadable; using the configured default role", "file", o.stateFile(), "err", err)
	case name != "" && set.has(name):
		o.use.Store(&name)
	case name != "":
		o.log.Warn("role chosen with 'imdsd use' is no longer configured; using the default", "role", name, "default", set.def)
	}
}

func (o *ops) stateFile() string {
	if f := o.cfg.Load().StateFile; f != "" {
		return f
	}
	return defaultStateFile()
}

func (o *ops) observeFetch(role, code string) {
	if o.metrics != nil {
		o.metrics.ObserveFetch(role, code)
	}
}

// observeRequest feeds the metrics; it is imds.Options.Observe.
func (o *ops) observeRequest() func(string, int, time.Duration) {
	if o.metrics == nil {
		return nil
	}
	return o.metrics.ObserveRequest
}

// defaultRole returns the role served by default: the one chosen with
// `imdsd use` while it is configured, else the config's.
func (o *ops) defaultRole(set *roleSet) string {
	if p := o.use.Load(); p != nil && set.has(*p) {
		return *p
	}
	return set.def
}

// defaultEntry returns the default role's entry (for newDaemon's
// region and account).
func (o *ops) defaultEntry() *roleEntry {
	set := o.set.Load()
	return set.byName[o.defaultRole(set)]
}

// Credentials implements imds.Source: the policy (package access) decides
// the caller's role, and its credentials come from memory.
func (o *ops) Credentials(ctx context.Context, c imds.Caller) (imds.Role, error) {
	set := o.set.Load()
	caller := o.sources.caller(c)
	name, err := o.policy.Load().Decide(ctx, caller, o.defaultRole(set), set.has)
	if err != nil {
		return imds.Role{}, imdsError(err)
	}
	e, ok := set.byName[name]
	if !ok {
		return imds.Role{}, imds.ErrNoRole
	}
	uid := -1
	if u, ok := caller.KnownUID(); ok {
		uid = u
	}
	container := caller.ContainerName()
	o.seen(c.Remote.Addr(), name, uid, container)
	out := roleCredentials(e)
	out.Container = container
	return out, nil
}

// roleCredentials is what imds serves for one role now; it counts the
// request for status.
func roleCredentials(e *roleEntry) imds.Role {
	e.requests.Add(1)
	out := imds.Role{Name: e.role.Name}
	creds, obtained, err := e.refresher.CredentialsObtained()
	if err != nil {
		out.Err = fmt.Errorf("role %s: %w", e.role.Name, err)
		return out
	}
	account := creds.AccountID
	if account == "" {
		account = e.role.AccountID
	}
	out.Credentials = imds.Credentials{
		AccessKeyID:     creds.AccessKeyID,
		SecretAccessKey: creds.SecretAccessKey,
		SessionToken:    creds.SessionToken,
		Expires:         creds.Expires,
		LastUpdated:     obtained,
		AccountID:       account,
	}
	return out
}

// seen remembers a client for status; container is the name the role
// routing found, if the client is a container.
func (o *ops) seen(a netip.Addr, role string, uid int, container string) {
	now := o.now()
	o.clientsMu.Lock()
	defer o.clientsMu.Unlock()
	c, ok := o.clients[a]
	if !ok {
		if len(o.clients) >= maxClients {
			o.forgetOldestClient()
		}
		c = &clientSeen{}
		o.clients[a] = c
	}
	if container != "" {
		c.container = container
	}
	c.role, c.last, c.uid = role, now, uid
	c.requests++
}

func (o *ops) forgetOldestClient() {
	var oldest netip.Addr
	var at time.Time
	for a, c := range o.clients {
		if at.IsZero() || c.last.Before(at) {
			oldest, at = a, c.last
		}
	}
	delete(o.clients, oldest)
}

func (o *ops) clientCount() int {
	o.clientsMu.Lock()
	defer o.clientsMu.Unlock()
	return len(o.clients)
}

func (o *ops) roleSamples() []metrics.RoleSample {
	set := o.set.Load()
	def := o.defaultRole(set)
	out := make([]metrics.RoleSample, 0, len(set.order))
	for _, name := range set.order {
		s := metrics.RoleSample{Name: name, Default: name == def}
		if c, err := set.byName[name].refresher.Credentials(); err == nil {
			s.Expires = c.Expires
		}
		out = append(out, s)
	}
	return out
}

// startRoles runs the refreshers of every role in set.
func (o *ops) startRoles(ctx context.Context, set *roleSet) {
	for _, name := range set.order {
		set.byName[name].start(ctx)
	}
}

// stopRoles stops every refresher (at shutdown).
func (o *ops) stopRoles() {
	set := o.set.Load()
	for _, name := range set.order {
		set.byName[name].stop()
	}
}

// errNoMFARole is returned by mfa when no role needs MFA.
var errNoMFARole = errors.New("no configured role needs MFA (set mfa_serial, or use a profile with mfa_serial)")

// startMFA opens the MFA session of every role that needs one (or of role)
// with code, then refreshes those roles at once.
func (o *ops) startMFA(ctx context.Context, role, code string) (serial string, names []string, exp time.Time, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	set := o.set.Load()
	started := map[*roles.MFASession]time.Time{}
	for _, name := range set.order {
		e := set.byName[name]
		if e.mfa == nil || (role != "" && role != name) {
			continue
		}
		at, ok := started[e.mfa]
		if !ok {
			if at, err = e.mfa.Start(ctx, code); err != nil {
				return "", nil, time.Time{}, err
			}
			started[e.mfa] = at
			o.log.Info("MFA session opened", "role", name, "mfa_serial", e.mfa.Serial(), "expires", at.UTC().Format(time.RFC3339))
		}
		e.mu.Lock()
		e.mfaWarned = false
		e.mu.Unlock()
		serial, exp = e.mfa.Serial(), at
		names = append(names, name)
		if o.runCtx != nil {
			e.restart(o.runCtx)
		}
	}
	if len(names) == 0 {
		if role != "" && !set.has(role) {
			return "", nil, time.Time{}, fmt.Errorf("role %q is not configured", role)
		}
		return "", nil, time.Time{}, errNoMFARole
	}
	return serial, names, exp, nil
}

// mfaWarnBefore is how long before an MFA session ends the daemon warns.
const mfaWarnBefore = time.Hour

// watchMFA logs, once per session, when an MFA session nears its end, so
// the user enters a new code before the roles stop refreshing.
func (o *ops) watchMFA() {
	set := o.set.Load()
	now := o.now()
	for _, name := range set.order {
		e := set.byName[name]
		if e.mfa == nil {
			continue
		}
		exp := e.mfa.Expires()
		if exp.IsZero() {
			continue
		}
		e.mu.Lock()
		warn := !e.mfaWarned && exp.Sub(now) < mfaWarnBefore
		if warn {
			e.mfaWarned = true
		}
		e.mu.Unlock()
		if warn {
			o.log.Warn("MFA session ends soon: run 'imdsd mfa' with a new code", "role", name,
				"mfa_serial", e.mfa.Serial(), "expires", exp.UTC().Format(time.RFC3339))
			if err := desktopNotify("imdsd: MFA session ends soon",
				"Role "+name+": run 'imdsd mfa' with a new code before "+exp.Local().Format(time.Kitchen)); err != nil {
				o.log.Debug("no desktop notification", "err", err)
			}
		}
	}
}
