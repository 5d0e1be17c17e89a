package daemon

// The daemon's roles: each resolved role with its refresher, built from the
// config, started and stopped as a unit so that a reload can add, remove or
// replace roles while the server keeps serving.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"github.com/imdsd/imdsd/access"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/imdsd/imdsd/config"
	"github.com/imdsd/imdsd/roles"
)

// roleEntry is one resolved role and its refresher.
type roleEntry struct {
	def       roles.Def
	role      roles.Resolved
	refresher *roles.Refresher
	mfa       *roles.MFASession // nil unless the role needs MFA
	source    *roleEntry        // the source_role's entry; nil unless chained
	requests  atomic.Int64

	mu        sync.Mutex
	cancel    context.CancelFunc
	done      chan struct{}
	mfaWarned bool
}

// fetchObserver learns of each fetch, for metrics.
type fetchObserver func(role, code string)

// resolveEnv is what resolving a role shares with the others resolved
// with it; every field but log may be nil.
type resolveEnv struct {
	log     *slog.Logger
	observe fetchObserver
	// sessions: an MFA session of the same key is reused.
	sessions map[string]*roles.MFASession
	// sources: one SDK config per source profile and region.
	sources *roles.SourceConfigs
	// sched is the daemon's role scheduler.
	sched *roles.Scheduler
}

// resolveRole resolves def (whose source_role is source, when it names
// one) and builds its refresher; it starts nothing.
func resolveRole(ctx context.Context, def roles.Def, source *roleEntry, env resolveEnv) (*roleEntry, error) {
	log, observe, sessions, sources, sched := env.log, env.observe, env.sessions, env.sources, env.sched
	if sessions == nil {
		sessions = map[string]*roles.MFASession{}
	}
	e := &roleEntry{def: def, source: source}
	r, m, ok, err := roles.ResolveMFA(ctx, def.Spec(), def.MFASerial, def.MFADuration, sessions)
	if err != nil {
		return nil, err
	}
	if ok {
		e.mfa = m
	} else {
		spec := def.Spec()
		spec.MFAToken = func() (string, error) { return "", roles.ErrMFARequired }
		if source != nil {
			spec.SourceCredentials = source.credentialsProvider()
		}
		spec.CheckKeyFile = config.CheckKeyFile // a Roles Anywhere key, vetted at every read
		spec.Sources = sources
		if r, err = roles.Resolve(ctx, spec); err != nil {
			return nil, err
		}
	}
	for _, w := range r.Warnings {
		log.Warn(w, "role", cmp.Or(def.Name, r.Name))
	}
	e.role = r
	// Failures are stored, logged and shown with the role's own secrets
	// (its external ID, the profile's) and key shapes redacted.
	inner := roles.Redacting(r.Fetcher, roles.SpecSecrets(ctx, def.Spec())...)
	label := def.Name // the role's name in the config, as status and use show it
	if label == "" {
		label = r.Name
	}
	fetcher := roles.FetcherFunc(func(ctx context.Context) (aws.Credentials, error) {
		c, err := inner.Fetch(ctx)
		if observe != nil && ctx.Err() == nil {
			observe(label, roles.ErrorCode(err))
		}
		return c, err
	})
	e.refresher, err = roles.NewRefresher(roles.RefresherOptions{
		// Log lines and errors name the role as status, use and creds
		// --role do: the config's name, the ARN's only for the flat
		// role (issue 16 item 10).
		Name:         label,
		Fetcher:      fetcher,
		MinRemaining: minRemaining(def),
		Logger:       log,
		Scheduler:    sched,
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// start runs the refresher until stop or ctx ends.
func (e *roleEntry) start(ctx context.Context) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	e.cancel, e.done = cancel, done
	go func() {
		defer close(done)
		_ = e.refresher.Run(ctx)
	}()
}

// stop ends the refresher and waits for it.
func (e *roleEntry) stop() {
	e.mu.Lock()
	cancel, done := e.cancel, e.done
	e.cancel, e.done = nil, nil
	e.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// restart runs the refresher again: its first pass fetches at once,
// without waiting out a backoff (after `imdsd mfa`, say).
func (e *roleEntry) restart(ctx context.Context) {
	e.stop()
	e.start(ctx)
}

// waitFetched waits, up to limit, for the first fetch to finish.
func (e *roleEntry) waitFetched(ctx context.Context, limit time.Duration) {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-e.refresher.Fetched():
	case <-t.C:
	case <-ctx.Done():
	}
}

// roleSet is the daemon's roles at one moment; it is never changed once
// published, a reload publishes a new one.
type roleSet struct {
	byName map[string]*roleEntry
	order  []string // config order
	def    string   // the configured default role
}

func (s *roleSet) has(name string) bool { _, ok := s.byName[name]; return ok }

// buildSet resolves every role of cfg, reusing the running entries of prev
// whose definition did not change. It starts nothing.
func buildSet(ctx context.Context, cfg config.Config, prev *roleSet, log *slog.Logger, observe fetchObserver, sched *roles.Scheduler) (*roleSet, error) {
	set := &roleSet{byName: map[string]*roleEntry{}}
	sessions := map[string]*roles.MFASession{}
	// One per build: a reload reads the shared files again.
	sources := roles.NewSourceConfigs()
	if prev != nil {
		for _, e := range prev.byName {
			if e.mfa != nil {
				sessions[e.mfa.Key()] = e.mfa
			}
		}
	}
	defs := cfg.RoleDefs()
	order, err := roles.ChainOrder(defs) // a role's source_role before it
	if err != nil {
		return nil, err
	}
	names := make([]string, len(defs))
	for _, i := range order {
		def := defs[i]
		var source *roleEntry
		if def.SourceRole != "" {
			source = set.byName[def.SourceRole] // resolved before: ChainOrder
		}
		e, err := resolveRole(ctx, def, source, resolveEnv{log: log, observe: observe, sessions: sessions, sources: sources, sched: sched})
		if err != nil {
			return nil, err
		}
		if e.mfa != nil {
			sessions[e.mfa.Key()] = e.mfa // roles on one device share its session
		}
		name := e.role.Name
		if def.Name != "" {
			name = def.Name
		}
		// A running role is kept when its definition is unchanged and so
		// is its source's entry: a chained role whose source was replaced
		// is replaced too, so it never asks the old one.
		if old, ok := prev.lookup(name); ok && old.def == def && old.source == source {
			e = old
		}
		if set.has(name) {
			return nil, fmt.Errorf("role %q is defined twice", name)
		}
		set.byName[name] = e
		names[i] = name
	}
	for i, name := range names {
		set.order = append(set.order, name)
		if i == 0 {
			set.def = name
		}
	}
	if len(set.order) == 0 {
		return nil, errors.New("no role configured")
	}
	return set, nil
}

func (s *roleSet) lookup(name string) (*roleEntry, bool) {
	if s == nil {
		return nil, false
	}
	e, ok := s.byName[name]
	return e, ok
}

// CheckRoles resolves every role of cfg as New would, reading the AWS
// shared files and calling nothing, and returns their names in config
// order and the default's (for `imdsd config check`).
func CheckRoles(ctx context.Context, cfg config.Config) (names []string, def string, err error) {
	quiet := slog.New(slog.DiscardHandler)
	set, err := buildSet(ctx, cfg, nil, quiet, nil, nil)
	if err != nil {
		return nil, "", err
	}
	if _, err := newPolicy(cfg, set.order, access.SystemUsers{}, quiet); err != nil {
		return nil, "", err
	}
	return set.order, set.def, nil
}
