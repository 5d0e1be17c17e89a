package roles

// The role scheduler: the one place that decides when each role's
// credentials are fetched, when a daemon holds many roles (issue 19).
//
// STS throttles AssumeRole per account and Region with a token bucket
// (AWS Security Blog, "How to monitor and query IAM resources at scale –
// Part 2"; re:Post knowledge center "iam-sts-throttling-error": the limits
// cannot be raised). AWS does not publish a per-API figure we could
// confirm; the commonly quoted one is about 600 requests/s per account per
// Region, which is an estimate, shared by everything in the account. The
// defaults here (DefaultSTSRate calls/s, DefaultSTSMaxInFlight at once)
// stay well under it, so one host never takes a large share.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Scheduler defaults.
const (
	// DefaultSTSMaxInFlight bounds the fetches running at once.
	DefaultSTSMaxInFlight = 8
	// DefaultSTSRate is the most fetches started per second.
	DefaultSTSRate = 20
	// DefaultRecoverEvery is how often the rate, cut by a throttle, grows
	// back by a tenth of the configured rate while no throttle comes.
	DefaultRecoverEvery = 10 * time.Second
	// minCutGap keeps one burst of throttles (the calls in flight when STS
	// started refusing) from halving the rate once per call.
	minCutGap = 2 * time.Second
	// minRateShare is the floor of a cut rate, as a share of the
	// configured one.
	minRateShare = 1.0 / 32
)

// Priority orders the fetches waiting for a permit: lower runs first.
type Priority int

// The priorities, highest first.
const (
	// PriorityUrgent: nothing to serve, a client waits, or the set is
	// under MinRemaining.
	PriorityUrgent Priority = iota
	// PriorityDefault: a planned refresh of the default role.
	PriorityDefault
	// PriorityPlanned: a planned refresh ahead of MinRemaining.
	PriorityPlanned
)

// String names the priority for logs and tests.
func (p Priority) String() string {
	switch p {
	case PriorityUrgent:
		return "urgent"
	case PriorityDefault:
		return "default"
	case PriorityPlanned:
		return "planned"
	}
	return fmt.Sprintf("Priority(%d)", int(p))
}

// ErrSchedulerStopped is returned by Acquire once the scheduler's Run has
// ended.
var ErrSchedulerStopped = errors.New("role scheduler stopped")

// SchedulerOptions configure a Scheduler. Zero values take the defaults.
type SchedulerOptions struct {
	// MaxInFlight bounds the fetches running at once.
	MaxInFlight int
	// Rate is the most fetches started per second; the token bucket holds
	// up to Burst (MaxInFlight when zero).
	Rate  float64
	Burst int
	// RecoverEvery is the additive-increase step after a throttle cut.
	RecoverEvery time.Duration
	Clock        Clock
	Logger       *slog.Logger
	// Seed seeds the source that spreads refreshes, so a run under a fake
	// clock is reproducible.
	Seed uint64
	// IdleAfter, when set, stops refreshing a role (not the default one)
	// that no client has asked for in that long; its next request wakes
	// it and waits one fetch (lazy.go). Zero refreshes every role always.
	IdleAfter time.Duration
}

// SchedulerStats is what the scheduler did, for metrics and benchmarks.
type SchedulerStats struct {
	InFlight    int
	MaxInFlight int // the most in flight at once since start
	Queued      int
	Granted     int64
	Throttles   int64 // fetches that came back throttled
	Cuts        int64 // times the rate was cut
	Rate        float64
}

// Scheduler hands out permits to fetch. Refreshers that share one ask it
// before each fetch (RefresherOptions.Scheduler): it grants them by
// priority, with at most MaxInFlight running and at most Rate started per
// second, cuts the rate for everyone when STS throttles and grows it back
// while STS does not (AIMD), and gives each role a phase in its refresh
// window so that N roles refresh at an even rate.
type Scheduler struct {
	opts SchedulerOptions
	log  *slog.Logger
	kick chan struct{}

	mu          sync.Mutex
	rnd         *rand.Rand
	phase       float64 // the last phase handed out
	rate        float64
	tokens      float64
	filled      time.Time // when tokens was last brought up to date
	lastCut     time.Time
	lastRaise   time.Time
	queue       []*waiter
	inFlight    int
	maxInFlight int
	granted     int64
	throttles   int64
	cuts        int64
	defaultName string
	stopped     bool
	nextSeq     int64
}

type waiter struct {
	req     FetchRequest
	seq     int64
	ready   chan struct{}
	granted bool
}

// FetchRequest is one fetch asking for a permit.
type FetchRequest struct {
	// Name is the role's name (RefresherOptions.Name).
	Name     string
	Priority Priority
	// UrgentAt, when set, raises the request to PriorityUrgent once the
	// clock reaches it: a planned refresh still queued when its set falls
	// under MinRemaining jumps the queue.
	UrgentAt time.Time
}

// NewScheduler returns a Scheduler; call Run to let it refill its bucket.
func NewScheduler(opts SchedulerOptions) (*Scheduler, error) {
	if opts.MaxInFlight < 0 || opts.Rate < 0 || opts.Burst < 0 {
		return nil, fmt.Errorf("roles: scheduler limits must not be negative (max in flight %d, rate %g, burst %d)", opts.MaxInFlight, opts.Rate, opts.Burst)
	}
	if opts.MaxInFlight == 0 {
		opts.MaxInFlight = DefaultSTSMaxInFlight
	}
	if opts.Rate == 0 {
		opts.Rate = DefaultSTSRate
	}
	if opts.Burst == 0 {
		opts.Burst = opts.MaxInFlight
	}
	if opts.RecoverEvery == 0 {
		opts.RecoverEvery = DefaultRecoverEvery
	}
	if opts.Clock == nil {
		opts.Clock = SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	now := opts.Clock.Now()
	rnd := rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))
	return &Scheduler{
		opts:   opts,
		log:    opts.Logger.With("component", "scheduler"),
		kick:   make(chan struct{}, 1),
		rnd:    rnd,
		phase:  rnd.Float64(),
		rate:   opts.Rate,
		tokens: float64(opts.Burst),
		filled: now,
	}, nil
}

// SetDefault names the default role, whose planned refreshes go before
// the others'.
func (s *Scheduler) SetDefault(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.defaultName = name
}

// isDefault reports whether name is the default role's.
func (s *Scheduler) isDefault(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return name != "" && name == s.defaultName
}

// Float64 returns a number in [0,1) from the scheduler's seeded source,
// for the refreshers' jitter and backoff.
func (s *Scheduler) Float64() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rnd.Float64()
}

// Phase returns the next role's place in its refresh window, in [0,1):
// the golden-ratio sequence from a seeded start, so that any number of
// roles started together get places spread evenly, not clumped as
// independent draws are.
func (s *Scheduler) Phase() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	const step = 0.6180339887498949 // 1/φ
	_, s.phase = math.Modf(s.phase + step)
	return s.phase
}

// Stats returns the counters and the current rate.
func (s *Scheduler) Stats() SchedulerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SchedulerStats{
		InFlight: s.inFlight, MaxInFlight: s.maxInFlight, Queued: len(s.queue),
		Granted: s.granted, Throttles: s.throttles, Cuts: s.cuts, Rate: s.rate,
	}
}

// A Permit lets one fetch run; Done must be called once it has finished.
type Permit struct {
	s    *Scheduler
	once sync.Once
}

// Done returns the permit with the fetch's outcome: a throttling error
// cuts the rate for every role.
func (p *Permit) Done(err error) {
	if p == nil {
		return
	}
	p.once.Do(func() { p.s.done(err) })
}

// Acquire waits for a permit, in priority order, until ctx ends.
func (s *Scheduler) Acquire(ctx context.Context, req FetchRequest) (*Permit, error) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil, ErrSchedulerStopped
	}
	s.nextSeq++
	w := &waiter{req: req, seq: s.nextSeq, ready: make(chan struct{})}
	s.queue = append(s.queue, w)
	s.dispatchLocked(s.opts.Clock.Now())
	s.mu.Unlock()
	s.poke()
	select {
	case <-w.ready:
		return &Permit{s: s}, nil
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		if w.granted {
			// Granted as ctx ended: give the slot back unused.
			s.inFlight--
			s.dispatchLocked(s.opts.Clock.Now())
		} else {
			s.removeLocked(w)
		}
		return nil, ctx.Err()
	}
}

func (s *Scheduler) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run refills the bucket and grants permits as tokens come, until ctx
// ends; then every waiter gets ErrSchedulerStopped.
func (s *Scheduler) Run(ctx context.Context) error {
	for {
		s.mu.Lock()
		now := s.opts.Clock.Now()
		s.dispatchLocked(now)
		at, ok := s.nextTokenLocked(now)
		s.mu.Unlock()
		var tick <-chan time.Time
		if ok {
			// From the clock's now, not the now above: if it moved in
			// between, the token is due already and the timer fires at once.
			tick = s.opts.Clock.After(at.Sub(s.opts.Clock.Now()))
		}
		select {
		case <-ctx.Done():
			s.mu.Lock()
			s.stopped = true
			s.mu.Unlock()
			return nil
		case <-tick:
		case <-s.kick:
		}
	}
}

// nextTokenLocked is when the next token comes, when someone waits for
// one; false when nothing is to be waited for (a kick will come).
// Priorities (UrgentAt included) are weighed when a permit is granted, so
// only the next token needs a timer.
func (s *Scheduler) nextTokenLocked(now time.Time) (time.Time, bool) {
	if len(s.queue) == 0 || s.inFlight >= s.opts.MaxInFlight {
		return time.Time{}, false
	}
	d := time.Duration(math.Ceil((1 - s.tokens) / s.rate * float64(time.Second)))
	return now.Add(max(d, time.Millisecond)), true
}

// refillLocked brings the bucket up to now.
func (s *Scheduler) refillLocked(now time.Time) {
	if el := now.Sub(s.filled); el > 0 {
		s.tokens = min(s.tokens+el.Seconds()*s.rate, s.burstLocked())
	}
	s.filled = now
}

// burstLocked is the bucket's size at the current rate: cut with it, so a
// throttled scheduler does not start with a full burst.
func (s *Scheduler) burstLocked() float64 {
	return max(1, float64(s.opts.Burst)*s.rate/s.opts.Rate)
}

// dispatchLocked grants permits while slots and tokens allow, best
// priority first, then oldest.
func (s *Scheduler) dispatchLocked(now time.Time) {
	s.refillLocked(now)
	for len(s.queue) > 0 && s.inFlight < s.opts.MaxInFlight && s.tokens >= 1 {
		best := 0
		for i := 1; i < len(s.queue); i++ {
			if s.lessLocked(s.queue[i], s.queue[best], now) {
				best = i
			}
		}
		w := s.queue[best]
		s.queue = append(s.queue[:best], s.queue[best+1:]...)
		s.tokens--
		s.inFlight++
		s.maxInFlight = max(s.maxInFlight, s.inFlight)
		s.granted++
		w.granted = true
		close(w.ready)
	}
}

func (s *Scheduler) priorityLocked(r FetchRequest, now time.Time) Priority {
	p := r.Priority
	if p == PriorityPlanned && r.Name != "" && r.Name == s.defaultName {
		p = PriorityDefault
	}
	if !r.UrgentAt.IsZero() && !now.Before(r.UrgentAt) {
		p = PriorityUrgent
	}
	return p
}

func (s *Scheduler) lessLocked(a, b *waiter, now time.Time) bool {
	pa, pb := s.priorityLocked(a.req, now), s.priorityLocked(b.req, now)
	if pa != pb {
		return pa < pb
	}
	return a.seq < b.seq
}

func (s *Scheduler) removeLocked(w *waiter) {
	for i, q := range s.queue {
		if q == w {
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			return
		}
	}
}

// done ends one fetch: a throttle halves the rate (once per minCutGap) and
// empties the bucket; a success after RecoverEvery without a cut grows it
// back by a tenth of the configured rate.
func (s *Scheduler) done(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Clock.Now()
	s.inFlight--
	if Classify(err) == KindThrottled {
		s.throttles++
		if s.lastCut.IsZero() || now.Sub(s.lastCut) >= minCutGap {
			s.refillLocked(now)
			old := s.rate
			s.rate = max(s.rate/2, s.opts.Rate*minRateShare)
			s.tokens = min(s.tokens, 0)
			s.lastCut, s.lastRaise = now, now
			s.cuts++
			s.log.Warn("STS throttled; slowing every role's refresh", "rate_per_s", s.rate, "was", old)
		}
	} else if err == nil && s.rate < s.opts.Rate && now.Sub(s.lastRaise) >= s.opts.RecoverEvery {
		s.refillLocked(now)
		s.rate = min(s.rate+s.opts.Rate/10, s.opts.Rate)
		s.lastRaise = now
	}
	s.dispatchLocked(now)
	s.poke()
}
