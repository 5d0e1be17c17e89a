package roles

// Lazy roles: with SchedulerOptions.IdleAfter set, a role no client has
// asked for in that long stops being refreshed (fewer STS calls and less
// CloudTrail noise). Its last set is served while it lasts; once it has
// run out, the next request wakes the role and waits for one fetch: one
// STS round trip, which SDKs that give IMDS half a second to a second may
// not wait out when STS is slow. The default role is never idle.

import (
	"sync"
	"sync/atomic"
	"time"
)

type lazyState struct {
	lastUse atomic.Int64 // clock time of the last Touch, UnixNano
	idle    atomic.Bool
	mu      sync.Mutex
	// ended is closed when the fetch under way, or the next one, ends;
	// nil when nobody waits.
	ended chan struct{}
}

func (l *lazyState) fetchEnded() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended != nil {
		close(l.ended)
		l.ended = nil
	}
}

// idling reports whether the role is idle now: no Touch in IdleAfter, it
// holds a set (the first fetch always runs), and it is not the default.
func (r *Refresher) idling(now time.Time) bool {
	s := r.opts.Scheduler
	if s == nil || s.opts.IdleAfter <= 0 || !r.state.Load().have || s.isDefault(r.opts.Name) {
		r.lazy.idle.Store(false)
		return false
	}
	idle := now.Sub(time.Unix(0, r.lazy.lastUse.Load())) >= s.opts.IdleAfter
	if idle && !r.lazy.idle.Load() {
		r.log.Info("role idle: no client asked for it; refreshing stops until one does", "idle_after", s.opts.IdleAfter)
	}
	r.lazy.idle.Store(idle)
	return idle
}

// Idle reports whether the role has stopped refreshing for want of
// clients (status).
func (r *Refresher) Idle() bool { return r.lazy.idle.Load() }

// Touch records that a client asked for the role. An idle role wakes: its
// loop fetches at once. When the role has nothing servable, Touch returns
// a channel closed when that fetch ends, for the request to wait on (with
// its own limit); otherwise nil.
func (r *Refresher) Touch() <-chan struct{} {
	if !r.lazy.idle.Load() {
		r.lazy.lastUse.Store(r.opts.Clock.Now().UnixNano())
		return nil
	}
	// The channel is taken before lastUse moves: once it moves, the loop
	// (woken by anything, a reader's poke included) may fetch at once,
	// and that fetch's end must close the channel we hand out.
	var ch chan struct{}
	if r.serve(r.state.Load(), r.opts.Clock.Now()).err != nil {
		r.lazy.mu.Lock()
		if r.lazy.ended == nil {
			r.lazy.ended = make(chan struct{})
		}
		ch = r.lazy.ended
		r.lazy.mu.Unlock()
	}
	r.lazy.lastUse.Store(r.opts.Clock.Now().UnixNano())
	r.lazy.idle.Store(false)
	r.poke()
	return ch
}
