package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/imdsd/imdsd/config"
	"net"
	"os"
	"os/signal"
	"slices"
	"sync"
	"time"

	"github.com/imdsd/imdsd/control"
	"github.com/imdsd/imdsd/roles"
)

// handlers are the control API's commands.
func (o *Daemon) handlers() map[string]control.Handler {
	return map[string]control.Handler{
		control.CmdStatus: func(context.Context, json.RawMessage) (any, error) { return o.status(), nil },
		control.CmdReload: func(ctx context.Context, _ json.RawMessage) (any, error) { return o.applyReload(ctx) },
		control.CmdUse: func(_ context.Context, raw json.RawMessage) (any, error) {
			var a control.UseArgs
			if err := decodeArgs(raw, &a); err != nil {
				return nil, err
			}
			return o.useRole(a.Role)
		},
		control.CmdMFA: func(ctx context.Context, raw json.RawMessage) (any, error) {
			var a control.MFAArgs
			if err := decodeArgs(raw, &a); err != nil {
				return nil, err
			}
			serial, names, exp, err := o.startMFA(ctx, a.Role, a.Code)
			if err != nil {
				return nil, err
			}
			return control.MFAReply{Serial: serial, Roles: names, Expires: exp}, nil
		},
		control.CmdCreds: func(_ context.Context, raw json.RawMessage) (any, error) {
			var a control.CredsArgs
			if err := decodeArgs(raw, &a); err != nil {
				return nil, err
			}
			return o.creds(a.Role)
		},
	}
}

func decodeArgs(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("bad arguments: %w", err)
	}
	return nil
}

// useRole makes name the default role and saves the choice.
func (o *Daemon) useRole(name string) (control.UseReply, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	set := o.set.Load()
	if !set.has(name) {
		return control.UseReply{}, fmt.Errorf("role %q is not configured (configured: %v)", name, set.order)
	}
	prev := o.defaultRole(set)
	if err := writeState(o.stateFile(), name); err != nil {
		return control.UseReply{}, err
	}
	o.use.Store(&name)
	o.scheduleDefault()
	o.log.Info("default role switched", "from", prev, "to", name)
	return control.UseReply{Previous: prev, Role: name}, nil
}

// creds returns a role's current credentials, from memory.
func (o *Daemon) creds(name string) (control.Creds, error) {
	set := o.set.Load()
	if name == "" {
		name = o.defaultRole(set)
	}
	e, ok := set.byName[name]
	if !ok {
		return control.Creds{}, fmt.Errorf("role %q is not configured (configured: %v)", name, set.order)
	}
	snap := e.refresher.Snapshot()
	if snap.Err != nil {
		return control.Creds{}, fmt.Errorf("role %s: %w", name, snap.Err)
	}
	c := snap.Credentials
	return control.Creds{
		Role: name, AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey,
		SessionToken: c.SessionToken, Expiration: c.Expires.UTC(), Region: e.role.Region,
	}, nil
}

// status reports every role and client.
func (o *Daemon) status() control.Status {
	o.mu.Lock()
	st := control.Status{
		Version: o.opts.Version, PID: os.Getpid(), Started: o.started.UTC(),
		Listen: o.listen, Reloads: o.reloads, LastReload: o.lastReload.UTC(), ReloadError: o.reloadErr,
		PendingRestart: slices.Clone(o.pendingRestart),
	}
	if o.lastReload.IsZero() {
		st.LastReload = time.Time{}
	}
	o.mu.Unlock()
	set := o.set.Load()
	st.DefaultRole = o.defaultRole(set)
	cfg := o.cfg.Load()
	st.STSEndpoint, st.InstanceID, st.Containers = cfg.Role.STSEndpoint, o.instanceID, cfg.Containers.Enabled
	if e, ok := set.byName[st.DefaultRole]; ok {
		st.Region = e.role.Region
	}
	for _, name := range set.order {
		rs := roleStatus(set.byName[name])
		rs.Name = name // the name `use` and `creds --role` take
		rs.Default = name == st.DefaultRole
		st.Roles = append(st.Roles, rs)
	}
	o.clientsMu.Lock()
	for _, c := range o.clients {
		cs := control.ClientStatus{Address: c.addr.String(), Caller: c.id, Unit: c.unit, Container: c.container, Role: c.role, Requests: c.requests, LastSeen: c.last.UTC()}
		if c.uid >= 0 {
			uid := c.uid
			cs.UID = &uid
		}
		st.Clients = append(st.Clients, cs)
	}
	o.clientsMu.Unlock()
	slices.SortFunc(st.Clients, func(a, b control.ClientStatus) int { return b.LastSeen.Compare(a.LastSeen) })
	st.Kubernetes = o.kubeStatus()
	return st
}

// roleStatus tells one role's state.
// roleStatus is one role's line of status, from one consistent snapshot
// of its refresher: the state follows the typed kind of the last error,
// never its text.
func roleStatus(e *roleEntry) control.RoleStatus {
	snap := e.refresher.Snapshot()
	rs := control.RoleStatus{
		Name: e.role.Name, ARN: e.role.ARN, Source: e.role.Source,
		LastRefresh: snap.LastRefresh.UTC(), NextRefresh: snap.NextRefresh.UTC(),
		STSCalls: snap.Fetches, STSFailures: snap.Failures, Requests: e.requests.Load(),
	}
	if snap.LastRefresh.IsZero() {
		rs.LastRefresh = time.Time{}
	}
	if snap.NextRefresh.IsZero() {
		rs.NextRefresh = time.Time{}
	}
	if e.mfa != nil {
		rs.MFA = &control.MFAStatus{Serial: e.mfa.Serial(), Expires: e.mfa.Expires().UTC()}
		if e.mfa.Expires().IsZero() {
			rs.MFA.Expires = time.Time{}
		}
	}
	if snap.LastError != nil {
		rs.ErrorKind = string(snap.LastErrorKind)
	}
	rs.Certificate = certificateStatus(e.role.Certificate, time.Now())
	switch {
	case snap.Err == nil:
		rs.Expires = snap.Credentials.Expires.UTC()
		rs.State = control.StateFresh
		if snap.LastError != nil {
			rs.State, rs.Reason = control.StateFailing, snap.LastError.Error()
		} else if snap.Refreshing {
			rs.State = control.StateRefreshing
		}
	case snap.LastErrorKind == roles.KindNeedsMFA:
		rs.State, rs.Reason = control.StateNeedsMFA, snap.LastError.Error()
	case snap.LastError != nil:
		rs.State, rs.Reason = control.StateFailing, snap.LastError.Error()
	default:
		rs.State, rs.Reason = control.StateRefreshing, snap.Err.Error()
	}
	return rs
}

// run serves the control API and the metrics, reloads on SIGHUP, and runs
// the refreshers, until ctx ends.
// Run starts the roles' refreshers, the control socket and the metrics
// listener, and runs until ctx ends; listen are the IMDS addresses, for
// status. It returns nil when ctx is cancelled.
func (o *Daemon) Run(ctx context.Context, listen []string) error {
	o.mu.Lock()
	o.runCtx = ctx
	o.listen = listen
	o.mu.Unlock()
	schedCtx, stopSched := context.WithCancel(context.Background())
	schedDone := make(chan struct{})
	go func() { defer close(schedDone); o.runScheduler(schedCtx) }()
	// Deferred first, so it runs last: after the refreshers have stopped.
	defer func() { stopSched(); <-schedDone }()
	o.startRoles(ctx, o.set.Load())
	defer o.stopRoles()
	if k := o.kube.Load(); k != nil {
		pctx, cancel := context.WithCancel(ctx)
		poolDone := make(chan struct{})
		go func() { defer close(poolDone); k.pool.run(pctx) }()
		defer func() { cancel(); <-poolDone }()
	}

	cfg := o.cfg.Load()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	defer wg.Wait()
	if cfg.ControlSocket != config.ControlOff {
		path := cfg.ControlSocket
		if path == "" {
			path = control.DefaultPath()
		}
		ln, err := control.Listen(path, control.ListenOptions{GID: -1})
		if err != nil {
			return err
		}
		o.log.Info("control socket", "path", path)
		srv := control.NewServer(control.ServerOptions{Handlers: o.handlers(), Logger: o.log})
		wg.Add(1)
		go func() { defer wg.Done(); errc <- srv.Run(ctx, ln) }()
	}
	if cfg.MetricsListen != "" {
		ln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			return fmt.Errorf("metrics_listen: %w", err)
		}
		o.log.Info("metrics", "url", "http://"+ln.Addr().String()+"/metrics")
		wg.Add(1)
		go func() { defer wg.Done(); errc <- o.metrics.Run(ctx, ln) }()
	}
	hup := make(chan os.Signal, 1)
	if o.opts.ReloadSignal != nil {
		o.opts.ReloadSignal(hup)
		defer signal.Stop(hup)
	}
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if err != nil {
				return err
			}
		case <-hup:
			o.log.Info("SIGHUP: reloading the config")
			_, _ = o.applyReload(ctx)
		case <-tick.C:
			o.watchMFA()
		}
	}
}
