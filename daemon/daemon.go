package daemon

import (
	"context"
	"github.com/imdsd/imdsd/access"
	"github.com/imdsd/imdsd/config"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imdsd/imdsd/imds"
	"github.com/imdsd/imdsd/metrics"
	"github.com/imdsd/imdsd/roles"
)

// maxClients bounds the clients remembered for status.
const maxClients = 1024

// Options configure a Daemon. Config is required; the rest may be zero.
type Options struct {
	Config config.Config
	Logger *slog.Logger
	// Version is the version status shows.
	Version string
	// StateFile is where `imdsd use` keeps its choice when the config
	// names no state_file.
	StateFile string
	// Reload reads the configuration again, as at start (file and flags);
	// nil refuses reloads.
	Reload func() (config.Config, error)
	// Notify shows a desktop notification (an MFA session ending); nil
	// shows none.
	Notify func(title, body string) error
	// ReloadSignal asks for the signal that means "reload" (SIGHUP) to be
	// sent on the channel; nil listens for none.
	ReloadSignal func(chan<- os.Signal)
}

// Daemon is the running daemon's core: it owns the roles (swapped whole on
// a reload), answers the IMDS server as its Source through the access
// policy, counts clients, and serves the control API and the metrics.
type Daemon struct {
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	started time.Time
	metrics *metrics.Metrics // nil when metrics_listen is off
	// sched decides when each role is fetched (schedule.go).
	sched  *roles.Scheduler
	reload func() (config.Config, error)
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

	// pendingRestart are the keys the last refused reload found changed
	// that only a restart applies (mu); nil after a reload that succeeded.
	pendingRestart []string
	// reloadMu serialises reloads from their read of the file to their
	// swap; the read happens without mu (applyReload).
	reloadMu sync.Mutex

	clientsMu sync.Mutex
	clients   map[clientID]*clientSeen

	// sources identify callers for the policy (policy.go); containers
	// are added before serving when they are on.
	sources *callerSources
	// policy decides each caller's role; rebuilt on a reload.
	policy atomic.Pointer[access.Policy]
	// kube is the Kubernetes mode (pods.go); nil when it is off.
	kube atomic.Pointer[kubeMode]
	// podRules is set once the pods' DNAT rules are installed (or printed).
	podRules atomic.Bool
}

// clientID is who status counts a client as, as the audit does: its
// container, else its identity (the socket's uid, and its systemd unit
// when a rule looked it up), else its address (issue 16 item 7: keyed by
// address alone, every local user was one row).
type clientID struct {
	container, id, unit string
	addr                netip.Addr // only when nothing else is known
}

type clientSeen struct {
	addr      netip.Addr // the last address it came from
	id, unit  string     // as in its clientID
	uid       int        // -1 when unknown
	container string     // the container's name, for a container
	role      string
	requests  int64
	last      time.Time
}

// New resolves the roles of the config and reads the state file. It starts
// nothing and opens no socket.
func New(ctx context.Context, opts Options) (*Daemon, error) {
	cfg, log := opts.Config, opts.Logger
	if log == nil {
		log = slog.Default()
	}
	o := &Daemon{opts: opts, log: log, now: time.Now, reload: opts.Reload, clients: map[clientID]*clientSeen{}}
	o.started = o.now()
	if cfg.MetricsListen != "" {
		o.metrics = metrics.New(metrics.Options{Roles: o.roleSamples, Clients: o.clientCount, Scheduler: o.schedulerSample, Ready: o.ready, Logger: log})
	}
	var err error
	if o.sched, err = newScheduler(cfg, log); err != nil {
		return nil, err
	}
	set, err := buildSet(ctx, cfg, nil, log, o.observeFetch, o.sched)
	if err != nil {
		return nil, err
	}
	policy, err := newPolicy(cfg, set.order, access.SystemUsers{}, log)
	if err != nil {
		return nil, err
	}
	policy.PodRefused = o.podRefused
	o.sources = newCallerSources()
	o.policy.Store(policy)
	o.cfg.Store(&cfg)
	o.set.Store(set)
	o.instanceID = cfg.InstanceID
	if o.instanceID == "" {
		o.instanceID = imds.DefaultInstanceID()
	}
	o.loadState(set)
	o.scheduleDefault()
	return o, nil
}

// loadState applies the role chosen with `imdsd use` before a restart.
func (o *Daemon) loadState(set *roleSet) {
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

func (o *Daemon) stateFile() string {
	if f := o.cfg.Load().StateFile; f != "" {
		return f
	}
	return o.opts.StateFile
}

func (o *Daemon) observeFetch(role, code string) {
	if o.metrics != nil {
		o.metrics.ObserveFetch(role, code)
	}
}

// ObserveRequest feeds the metrics; it is imds.Options.Observe.
func (o *Daemon) ObserveRequest() func(string, int, time.Duration) {
	if o.metrics == nil {
		return nil
	}
	return o.metrics.ObserveRequest
}

// defaultRole returns the role served by default: the one chosen with
// `imdsd use` while it is configured, else the config's.
func (o *Daemon) defaultRole(set *roleSet) string {
	if p := o.use.Load(); p != nil && set.has(*p) {
		return *p
	}
	return set.def
}

// DefaultRole returns the default role as resolved (for the server's
// region and account).
func (o *Daemon) DefaultRole() roles.Resolved {
	set := o.set.Load()
	return set.byName[o.defaultRole(set)].role
}

// Credentials implements imds.Source: the policy (package access) decides
// the caller's role, and its credentials come from memory.
func (o *Daemon) Credentials(ctx context.Context, c imds.Caller) (imds.Role, error) {
	set := o.set.Load()
	caller := o.sources.caller(c)
	if c.Authorization != "" {
		if err := o.identifyByToken(ctx, c, caller); err != nil {
			return imds.Role{}, err
		}
	}
	g, err := o.policy.Load().Grant(ctx, caller, o.defaultRole(set), set.has)
	if err != nil {
		o.countPodRefusal(caller, err)
		return imds.Role{}, imdsError(err)
	}
	uid := -1
	if u, ok := caller.KnownUID(); ok {
		uid = u
	}
	// The audit line and status name a pod as NAMESPACE/POD.
	container := caller.ContainerName()
	if p := caller.PodName(); p != "" {
		container = p
	}
	var out imds.Role
	label := g.Role // status names a role by its config name; a pod's by ARN
	if g.ByARN {
		if out, err = o.podCredentials(ctx, g, caller); err != nil {
			return imds.Role{}, err
		}
	} else {
		e, ok := set.byName[g.Role]
		if !ok {
			return imds.Role{}, imds.ErrNoRole
		}
		wakeRole(ctx, e)
		out = roleCredentials(e)
	}
	id := c.ID
	if id == "" && uid >= 0 {
		id = "uid=" + strconv.Itoa(uid)
	}
	o.seen(c.Remote.Addr(), id, caller.UnitName(), label, uid, container)
	o.countPodRequest(caller, out.Name)
	out.Container = container
	return out, nil
}

// roleCredentials is what imds serves for one role now; it counts the
// request for status.
func roleCredentials(e *roleEntry) imds.Role {
	e.requests.Add(1)
	return Serve(e.role.Name, e.role.AccountID, e.refresher)
}

// Serve is what imds serves for a role now, from one Snapshot of its
// refresher: the keys and their LastUpdated come from the same refresh.
// account is the role's account, for credentials STS gave none. It is the
// one Refresher→imds adapter (the daemon's, the benchmark's and the fault
// tests' source).
func Serve(name, account string, r *roles.Refresher) imds.Role {
	out := imds.Role{Name: name}
	snap := r.Snapshot()
	if snap.Err != nil {
		// Callers get a code and a fixed message per kind, never STS's
		// text: it may name the source user or echo secrets, and it is
		// unbounded (issue 15 item 9). The log and status have the rest.
		out.Err = snap.PublicErr(name)
		return out
	}
	creds := snap.Credentials
	if creds.AccountID != "" {
		account = creds.AccountID
	}
	out.Credentials = imds.Credentials{
		AccessKeyID:     creds.AccessKeyID,
		SecretAccessKey: creds.SecretAccessKey,
		SessionToken:    creds.SessionToken,
		Expires:         creds.Expires,
		LastUpdated:     snap.Obtained,
		AccountID:       account,
	}
	return out
}

// seen remembers a client for status, keyed by who it is (clientID): id
// is its connection's identity ("uid=1000"), unit its systemd unit when
// known, container the name the role routing found for a container.
func (o *Daemon) seen(a netip.Addr, id, unit, role string, uid int, container string) {
	k := clientID{container: container}
	if container == "" {
		k.id, k.unit = id, unit
		if id == "" && unit == "" {
			k.addr = a
		}
	}
	now := o.now()
	o.clientsMu.Lock()
	defer o.clientsMu.Unlock()
	c, ok := o.clients[k]
	if !ok {
		if len(o.clients) >= maxClients {
			o.forgetOldestClient()
		}
		c = &clientSeen{container: container, id: id, unit: unit}
		o.clients[k] = c
	}
	c.addr, c.role, c.last, c.uid = a, role, now, uid
	c.requests++
}

func (o *Daemon) forgetOldestClient() {
	var oldest clientID
	var at time.Time
	for a, c := range o.clients {
		if at.IsZero() || c.last.Before(at) {
			oldest, at = a, c.last
		}
	}
	delete(o.clients, oldest)
}

func (o *Daemon) clientCount() int {
	o.clientsMu.Lock()
	defer o.clientsMu.Unlock()
	return len(o.clients)
}

func (o *Daemon) roleSamples() []metrics.RoleSample {
	set := o.set.Load()
	def := o.defaultRole(set)
	out := make([]metrics.RoleSample, 0, len(set.order))
	for _, name := range set.order {
		s := metrics.RoleSample{Name: name, Default: name == def}
		if snap := set.byName[name].refresher.Snapshot(); snap.Err == nil {
			s.Expires = snap.Credentials.Expires
		}
		if w := set.byName[name].role.Certificate; w != nil {
			if info, ok := w.Last(); ok {
				s.CertificateExpires = info.NotAfter
			}
		}
		out = append(out, s)
	}
	return out
}

// startRoles runs the refreshers of every role in set.
func (o *Daemon) startRoles(ctx context.Context, set *roleSet) {
	for _, name := range set.order {
		set.byName[name].start(ctx)
	}
}

// stopRoles stops every refresher (at shutdown).
func (o *Daemon) stopRoles() {
	set := o.set.Load()
	for _, name := range set.order {
		set.byName[name].stop()
	}
}
