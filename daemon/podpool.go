package daemon

// The pods' roles: roles named by ARN in pod annotations, which are not
// config roles, assumed on demand. One entry per roles.Def (comparable,
// the map key): pods whose role and session parameters are identical
// share one session. An entry is created and started when a pod that
// needs it appears (prefetch), so the pod's first request does not wait on
// STS, and stopped once no pod has used it for the grace period.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/imdsd/imdsd/roles"
)

// ErrPoolFull refuses a new pod role past kubernetes.max_roles.
var ErrPoolFull = errors.New("too many distinct roles for pods on this node (kubernetes.max_roles)")

// sweepEvery is how often idle pod roles are looked for.
const sweepEvery = 30 * time.Second

type podPool struct {
	// sched is the daemon's role scheduler: pod roles count in its limits.
	sched   *roles.Scheduler
	max     int
	grace   time.Duration
	now     func() time.Time
	log     *slog.Logger
	observe fetchObserver

	mu      sync.Mutex
	ctx     context.Context // the refreshers' context once run; nil before
	entries map[roles.Def]*poolEntry
	byPod   map[string]roles.Def // pod UID → the def it holds
	full    bool                 // the refusal was logged
}

type poolEntry struct {
	e         *roleEntry
	pods      map[string]bool // UIDs of the pods holding it
	idleSince time.Time       // when the last pod let go; zero while held
}

func newPodPool(max int, grace time.Duration, now func() time.Time, log *slog.Logger, observe fetchObserver) *podPool {
	if max < 1 {
		max = 1
	}
	return &podPool{max: max, grace: grace, now: now, log: log, observe: observe,
		entries: map[roles.Def]*poolEntry{}, byPod: map[string]roles.Def{}}
}

// acquire returns the running entry of def, held by the pod uid (which
// lets go of any other it held); fresh reports that it was created now.
func (p *podPool) acquire(ctx context.Context, def roles.Def, uid string) (e *roleEntry, fresh bool, err error) {
	if pe, ok := p.hold(def, uid); ok {
		return pe.e, false, nil
	}
	// Resolving reads the AWS shared files: outside the lock.
	e, err = resolveRole(ctx, def, nil, resolveEnv{log: p.log, observe: p.observe, sched: p.sched})
	if err != nil {
		return nil, false, fmt.Errorf("role %s for pods: %w", def.RoleARN, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if pe, ok := p.entries[def]; ok { // another pod created it meanwhile
		p.holdLocked(def, pe, uid)
		return pe.e, false, nil
	}
	if len(p.entries) >= p.max {
		if !p.full {
			p.full = true
			p.log.Error("pod refused a role: too many distinct pod roles; raise kubernetes.max_roles", "max_roles", p.max, "role", def.RoleARN)
		}
		return nil, false, fmt.Errorf("%w: %d already; role %s refused", ErrPoolFull, p.max, def.RoleARN)
	}
	pe := &poolEntry{e: e, pods: map[string]bool{}}
	p.entries[def] = pe
	p.holdLocked(def, pe, uid)
	if p.ctx != nil {
		e.start(p.ctx)
	}
	return e, true, nil
}

// hold takes an existing entry for uid.
func (p *podPool) hold(def roles.Def, uid string) (*poolEntry, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pe, ok := p.entries[def]
	if ok {
		p.holdLocked(def, pe, uid)
	}
	return pe, ok
}

func (p *podPool) holdLocked(def roles.Def, pe *poolEntry, uid string) {
	if uid == "" {
		pe.idleSince = p.now() // held by no pod: idle from now on
		return
	}
	if old, ok := p.byPod[uid]; ok && old != def {
		p.releaseLocked(uid)
	}
	p.byPod[uid] = def
	pe.pods[uid] = true
	pe.idleSince = time.Time{}
}

// release lets go of the entry the pod uid held (the pod is gone, or no
// longer needs a role by ARN).
func (p *podPool) release(uid string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.releaseLocked(uid)
}

func (p *podPool) releaseLocked(uid string) {
	def, ok := p.byPod[uid]
	if !ok {
		return
	}
	delete(p.byPod, uid)
	if pe, ok := p.entries[def]; ok {
		delete(pe.pods, uid)
		if len(pe.pods) == 0 {
			pe.idleSince = p.now()
		}
	}
}

// sweep stops the entries no pod has held for the grace period.
func (p *podPool) sweep() {
	now := p.now()
	var stop []*roleEntry
	p.mu.Lock()
	for def, pe := range p.entries {
		if len(pe.pods) == 0 && !pe.idleSince.IsZero() && now.Sub(pe.idleSince) >= p.grace {
			delete(p.entries, def)
			stop = append(stop, pe.e)
			p.log.Info("pod role stopped: no pod on this node uses it", "role", def.RoleARN, "session", def.SessionName)
		}
	}
	if len(p.entries) < p.max {
		p.full = false
	}
	p.mu.Unlock()
	for _, e := range stop {
		e.stop()
	}
}

// run starts the entries, sweeps idle ones until ctx ends, then stops all.
func (p *podPool) run(ctx context.Context) {
	p.mu.Lock()
	p.ctx = ctx
	for _, pe := range p.entries {
		pe.e.start(ctx)
	}
	p.mu.Unlock()
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			p.stopAll()
			return
		case <-t.C:
			p.sweep()
		}
	}
}

func (p *podPool) stopAll() {
	p.mu.Lock()
	all := make([]*roleEntry, 0, len(p.entries))
	for _, pe := range p.entries {
		all = append(all, pe.e)
	}
	p.mu.Unlock()
	for _, e := range all {
		e.stop()
	}
}

// podRoleStatus is one pod role, for status.
type podRoleStatus struct {
	def  roles.Def
	e    *roleEntry
	pods int
}

// snapshot lists the entries, by ARN then session name.
func (p *podPool) snapshot() []podRoleStatus {
	p.mu.Lock()
	out := make([]podRoleStatus, 0, len(p.entries))
	for def, pe := range p.entries {
		out = append(out, podRoleStatus{def: def, e: pe.e, pods: len(pe.pods)})
	}
	p.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].def.RoleARN != out[j].def.RoleARN {
			return out[i].def.RoleARN < out[j].def.RoleARN
		}
		return out[i].def.SessionName < out[j].def.SessionName
	})
	return out
}
