package daemon

import (
	"context"
	"errors"
	"fmt"
	"github.com/imdsd/imdsd/access"
	"github.com/imdsd/imdsd/config"
	"time"

	"github.com/imdsd/imdsd/control"
)

// firstFetchWait bounds how long a reload waits for a new or changed role's
// first credentials before publishing it, so that clients of a replaced
// role never see a gap.
const firstFetchWait = 15 * time.Second

// errReloadOff is returned when the daemon has no way to read its config
// again.
var errReloadOff = errors.New("reload is not available: the daemon was not started by 'imdsd serve'")

// applyReload reads the config again and swaps the roles: new and changed
// roles are resolved and their first credentials fetched before the swap,
// removed and replaced ones stop after it. An invalid config changes
// nothing. In-flight and new requests are served throughout: the server
// reads the role set through an atomic pointer.
func (o *Daemon) applyReload(ctx context.Context) (control.ReloadReply, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	reply, err := o.reloadLocked(ctx)
	o.reloads++
	o.lastReload = o.now()
	o.reloadErr = ""
	if err != nil {
		o.reloadErr = err.Error()
		o.log.Error("reload refused; the previous config keeps running", "err", err)
		return reply, err
	}
	o.log.Info("reloaded", "added", reply.Added, "removed", reply.Removed, "changed", reply.Changed)
	return reply, nil
}

func (o *Daemon) reloadLocked(ctx context.Context) (control.ReloadReply, error) {
	var reply control.ReloadReply
	if o.reload == nil {
		return reply, errReloadOff
	}
	cfg, err := o.reload()
	if err != nil {
		return reply, fmt.Errorf("reload: %w", err)
	}
	if restart := config.RestartKeys(*o.cfg.Load(), cfg); len(restart) > 0 {
		o.log.Warn("config changes that take effect only after a restart", "keys", restart)
	}
	old := o.set.Load()
	next, err := buildSet(ctx, cfg, old, o.log, o.observeFetch)
	if err != nil {
		return reply, fmt.Errorf("reload: %w", err)
	}
	policy, err := newPolicy(cfg, next.order, access.SystemUsers{}, o.log)
	if err != nil {
		return reply, fmt.Errorf("reload: %w", err)
	}
	var fresh []*roleEntry
	for _, name := range next.order {
		e := next.byName[name]
		prev, ok := old.byName[name]
		switch {
		case !ok:
			reply.Added = append(reply.Added, name)
		case prev != e:
			reply.Changed = append(reply.Changed, name)
		default:
			reply.Unchanged = append(reply.Unchanged, name)
			continue
		}
		fresh = append(fresh, e)
	}
	for _, name := range old.order {
		if !next.has(name) {
			reply.Removed = append(reply.Removed, name)
		}
	}
	if o.runCtx != nil {
		for _, e := range fresh {
			e.start(o.runCtx)
		}
		for _, e := range fresh {
			e.waitFetched(ctx, firstFetchWait)
		}
	}
	o.cfg.Store(&cfg)
	o.policy.Store(policy)
	o.set.Store(next)
	// Only now, with no new request able to reach them, stop the roles
	// that went away or were replaced.
	for _, name := range old.order {
		if e := old.byName[name]; next.byName[name] != e {
			e.stop()
			if o.metrics != nil && !next.has(name) {
				o.metrics.ForgetRole(name)
			}
		}
	}
	return reply, nil
}
