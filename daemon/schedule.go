package daemon

// The role scheduler of the daemon: one for all roles (those of every
// reload), so that the bounds on STS calls hold across them.

import (
	"context"
	"log/slog"
	"time"

	"github.com/imdsd/imdsd/config"
	"github.com/imdsd/imdsd/metrics"
	"github.com/imdsd/imdsd/roles"
)

// newScheduler builds the daemon's scheduler from the sts_* keys.
func newScheduler(cfg config.Config, log *slog.Logger) (*roles.Scheduler, error) {
	return roles.NewScheduler(roles.SchedulerOptions{
		MaxInFlight: cfg.STS.MaxInFlight,
		Rate:        float64(cfg.STS.Rate),
		IdleAfter:   cfg.STS.IdleAfter,
		Logger:      log,
	})
}

// scheduleDefault tells the scheduler which role is the default now (at
// start, after `imdsd use` and after a reload), so its planned refreshes
// go first.
func (o *Daemon) scheduleDefault() {
	set := o.set.Load()
	if o.sched == nil || set == nil {
		return // a Daemon built without New (tests)
	}
	if e, ok := set.byName[o.defaultRole(set)]; ok {
		o.sched.SetDefault(e.role.Name)
	}
}

// runScheduler runs the scheduler until ctx ends; the roles' refreshers
// stop before it (Run's deferred stopRoles), and any still queued get
// roles.ErrSchedulerStopped.
func (o *Daemon) runScheduler(ctx context.Context) {
	if o.sched != nil {
		_ = o.sched.Run(ctx)
	}
}

// schedulerSample is the scheduler's state for metrics.
func (o *Daemon) schedulerSample() metrics.SchedulerSample {
	if o.sched == nil {
		return metrics.SchedulerSample{}
	}
	st := o.sched.Stats()
	return metrics.SchedulerSample{InFlight: st.InFlight, Queued: st.Queued, Throttles: st.Throttles, Rate: st.Rate}
}

// lazyWait bounds how long a request for an idle role whose credentials
// ran out waits for its fetch: under the 1 s botocore and the AWS CLI give
// IMDS, so a slow STS makes an error answer rather than a client timeout.
const lazyWait = 800 * time.Millisecond

// wakeRole records a request for e's role and, when the role was idle
// (idle_after) with nothing left to serve, waits for the fetch that wakes
// it: one STS round trip, up to lazyWait.
func wakeRole(ctx context.Context, e *roleEntry) {
	ch := e.refresher.Touch()
	if ch == nil {
		return
	}
	t := time.NewTimer(lazyWait)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
	}
}
