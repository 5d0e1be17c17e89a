package roles

// How a Refresher uses its Scheduler: the priority of each fetch and the
// plan of the next refresh.

import (
	"context"
	"time"
)

// acquire waits for the Scheduler's permit to fetch; with no Scheduler it
// returns a nil permit at once (Done on it does nothing).
//
// The fetch is urgent when there is nothing to serve, a reader asked for
// it, or the set is under MinRemaining; a planned refresh becomes urgent
// while queued once its set falls under MinRemaining.
func (r *Refresher) acquire(ctx context.Context) (*Permit, error) {
	if r.opts.Scheduler == nil {
		return nil, nil
	}
	s := r.state.Load()
	now := r.opts.Clock.Now()
	req := FetchRequest{Name: r.opts.Name, Priority: PriorityPlanned}
	waiting := r.waiting.Swap(false)
	if !s.have || waiting || s.creds.Expires.Sub(now) < r.opts.MinRemaining {
		req.Priority = PriorityUrgent
	} else {
		req.UrgentAt = s.creds.Expires.Add(-r.opts.MinRemaining)
	}
	return r.opts.Scheduler.Acquire(ctx, req)
}

// scheduledRefresh plans the refresh of a set that expires at expires,
// when a Scheduler spreads the roles: each refresh is planned Jitter
// before the set falls under MinRemaining (slack for the queue), and the
// first one of a role at its phase in the window between now and then.
// Roles started together so get even places in the window, and the
// fixed period after keeps them there: N roles refresh at an even rate,
// not in waves. It is called before the new set is stored.
func (r *Refresher) scheduledRefresh(expires, now time.Time) time.Time {
	latest := expires.Add(-r.opts.MinRemaining - r.opts.Jitter)
	floor := now.Add(minRefreshGap)
	at := latest
	if first := !r.state.Load().have; first && latest.After(floor) {
		at = floor.Add(time.Duration(r.phase * float64(latest.Sub(floor))))
	}
	if at.Before(floor) {
		at = floor
	}
	return at
}
