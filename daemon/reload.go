package daemon

import (
	"context"
	"errors"
	"fmt"
	"github.com/imdsd/imdsd/access"
	"github.com/imdsd/imdsd/config"
	"strings"
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

// errNeedsRestart is the refusal of a reload that changes a key a running
// daemon cannot apply (config.Key.Restart: its sockets, its identity, its
// hardening). Applying the rest and saying "reloaded" would leave the
// admin believing, say, that imdsv2 is now required (issue 15 item 6).
var errNeedsRestart = errors.New("these keys take effect only at a restart")

// applyReload reads the config again and swaps the roles: new and changed
// roles are resolved and their first credentials fetched before the swap,
// removed and replaced ones stop after it. An invalid config, or one that
// changes a key only a restart applies, changes nothing; the second is
// kept as the pending restart status shows. In-flight and new requests are
// served throughout: the server reads the role set through an atomic
// pointer.
func (o *Daemon) applyReload(ctx context.Context) (control.ReloadReply, error) {
	// One reload at a time, from its read to its swap, so that a reload
	// that read the file earlier never lands after one that read it
	// later. Only reloads take reloadMu.
	o.reloadMu.Lock()
	defer o.reloadMu.Unlock()
	// The file is read before o.mu is taken: a read can block (a hung
	// mount; a FIFO did, issue 15 item 8), and status, use and mfa must
	// answer meanwhile.
	cfg, readErr := o.readConfig()
	o.mu.Lock()
	defer o.mu.Unlock()
	reply, err := o.reloadLocked(ctx, cfg, readErr)
	o.reloads++
	o.lastReload = o.now()
	o.reloadErr = ""
	if err != nil {
		o.reloadErr = err.Error()
		o.log.Error("reload refused; the previous config keeps running", "err", err)
		return reply, err
	}
	o.pendingRestart = nil
	o.log.Info("reloaded", "added", reply.Added, "removed", reply.Removed, "changed", reply.Changed)
	return reply, nil
}

// readConfig reads the config as at start (file and flags).
func (o *Daemon) readConfig() (config.Config, error) {
	if o.reload == nil {
		return config.Config{}, errReloadOff
	}
	cfg, err := o.reload()
	if err != nil {
		return config.Config{}, fmt.Errorf("reload: %w", err)
	}
	return cfg, nil
}

// reloadLocked applies cfg, read by readConfig (readErr its error); o.mu
// is held.
func (o *Daemon) reloadLocked(ctx context.Context, cfg config.Config, readErr error) (control.ReloadReply, error) {
	var reply control.ReloadReply
	if readErr != nil {
		return reply, readErr
	}
	if restart := config.RestartKeys(*o.cfg.Load(), cfg); len(restart) > 0 {
		o.pendingRestart = restart
		return reply, fmt.Errorf("%w: %s; run 'imdsd restart' (nothing was changed)", errNeedsRestart, strings.Join(restart, ", "))
	}
	old := o.set.Load()
	next, err := buildSet(ctx, cfg, old, o.log, o.observeFetch, o.sched)
	if err != nil {
		return reply, fmt.Errorf("reload: %w", err)
	}
	policy, err := newPolicy(cfg, next.order, access.SystemUsers{}, o.log)
	if err != nil {
		return reply, fmt.Errorf("reload: %w", err)
	}
	policy.PodRefused = o.podRefused
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
	o.scheduleDefault()
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
