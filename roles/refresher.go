package roles

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Refresh timing defaults.
const (
	DefaultMinRemaining   = 30 * time.Minute
	DefaultGraceRemaining = 15 * time.Minute
	DefaultJitter         = 5 * time.Minute
	DefaultBackoffBase    = 1 * time.Second
	DefaultBackoffMax     = 1 * time.Minute
	DefaultFetchTimeout   = 20 * time.Second
	// DefaultCheckInterval is how often the loop looks at the wall clock
	// even when nothing is due, so a resume from suspend (when monotonic
	// timers stood still) is noticed.
	DefaultCheckInterval = 1 * time.Minute
	// minRefreshGap keeps a source that hands out short-lived credentials
	// from being asked in a tight loop.
	minRefreshGap = 10 * time.Second
)

// ErrNotReady is the reason given before the first credentials arrive.
var ErrNotReady = errors.New("waiting for the first credentials")

// A Fetcher obtains one fresh credential set. The returned Expires must be
// the real expiry from STS.
type Fetcher interface {
	Fetch(ctx context.Context) (aws.Credentials, error)
}

// FetcherFunc adapts a function to a Fetcher.
type FetcherFunc func(ctx context.Context) (aws.Credentials, error)

// Fetch calls f.
func (f FetcherFunc) Fetch(ctx context.Context) (aws.Credentials, error) { return f(ctx) }

// RefresherOptions configure a Refresher. Zero values take the defaults.
type RefresherOptions struct {
	// Name names the role in logs.
	Name    string
	Fetcher Fetcher
	// MinRemaining is the lifetime served credentials have at least while
	// refreshes succeed.
	MinRemaining time.Duration
	// GraceRemaining is the least lifetime the last good set may have to be
	// served while refreshes fail.
	GraceRemaining time.Duration
	// Jitter spreads refreshes: each starts between MinRemaining and
	// MinRemaining+Jitter before expiry.
	Jitter        time.Duration
	BackoffBase   time.Duration
	BackoffMax    time.Duration
	FetchTimeout  time.Duration
	CheckInterval time.Duration
	Clock         Clock
	Logger        *slog.Logger
	// Rand returns a float in [0,1); the Scheduler's seeded source when
	// there is one, else math/rand/v2's Float64, when nil.
	Rand func() float64
	// Scheduler, when set, decides when each fetch runs and spreads the
	// refreshes of the roles that share it (scheduler.go); nil fetches
	// on the refresher's own timer alone.
	Scheduler *Scheduler
}

// state is the refresher's immutable state, swapped atomically, so that
// one load gives the credentials together with the counters and the last
// failure that go with them (see Snapshot).
type state struct {
	creds    aws.Credentials
	have     bool
	obtained time.Time
	// lastErr is the last refresh failure: nil before the first fetch and
	// after a success. lastKind and lastCode are its Classify and
	// ErrorCode, worked out once when it is stored.
	lastErr     error
	lastKind    ErrorKind
	lastCode    string
	fetches     int64
	failures    int64
	lastRefresh time.Time
	nextRefresh time.Time
}

// Refresher keeps one role's credentials fresh in the background.
type Refresher struct {
	opts  RefresherOptions
	log   *slog.Logger
	state atomic.Pointer[state]
	// mu serializes the copy-and-store of state; readers never take it.
	mu   sync.Mutex
	wake chan struct{}
	// fetched is closed once the outcome of the first fetch is stored.
	fetched     chan struct{}
	fetchedOnce sync.Once
	// waiting is set when a reader asked for a refresh (poke): the next
	// fetch is urgent for the Scheduler.
	waiting atomic.Bool
	// phase is the role's place in its refresh window, from the
	// Scheduler (scheduler_refresher.go).
	phase float64
	// lazy is the idle-role state (lazy.go).
	lazy lazyState
}

// Stats counts what a Refresher did, for status and metrics. Snapshot
// gives the same with the credentials and the typed last error.
type Stats struct {
	Fetches     int64
	Failures    int64
	LastRefresh time.Time
	NextRefresh time.Time
	LastError   string
}

// NewRefresher returns a Refresher; call Run to start it.
func NewRefresher(opts RefresherOptions) (*Refresher, error) {
	if opts.Fetcher == nil {
		return nil, errors.New("roles: RefresherOptions.Fetcher is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&opts.MinRemaining, DefaultMinRemaining)
	def(&opts.GraceRemaining, DefaultGraceRemaining)
	def(&opts.Jitter, DefaultJitter)
	def(&opts.BackoffBase, DefaultBackoffBase)
	def(&opts.BackoffMax, DefaultBackoffMax)
	def(&opts.FetchTimeout, DefaultFetchTimeout)
	def(&opts.CheckInterval, DefaultCheckInterval)
	if opts.GraceRemaining > opts.MinRemaining {
		return nil, fmt.Errorf("roles: grace remaining %s exceeds min remaining %s", opts.GraceRemaining, opts.MinRemaining)
	}
	if opts.Clock == nil {
		opts.Clock = SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Rand == nil && opts.Scheduler != nil {
		opts.Rand = opts.Scheduler.Float64
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	r := &Refresher{
		opts:    opts,
		log:     opts.Logger.With("component", "roles", "role", opts.Name),
		wake:    make(chan struct{}, 1),
		fetched: make(chan struct{}),
	}
	if opts.Scheduler != nil {
		r.phase = opts.Scheduler.Phase()
	}
	r.lazy.lastUse.Store(opts.Clock.Now().UnixNano())
	r.state.Store(&state{lastKind: KindNone})
	return r, nil
}

// Credentials returns the credentials to serve now, from memory. It never
// calls STS. It returns an error, and asks the loop to refresh, when there
// are no credentials yet or the last good set is too close to expiry.
func (r *Refresher) Credentials() (aws.Credentials, error) {
	c, _, err := r.CredentialsObtained()
	return c, err
}

// CredentialsObtained is Credentials with the time those credentials were
// obtained, both from the same state: a refresh that lands in between
// cannot pair one set's keys with another's time.
func (r *Refresher) CredentialsObtained() (aws.Credentials, time.Time, error) {
	v := r.serve(r.state.Load(), r.opts.Clock.Now())
	return v.creds, v.obtained, v.err
}

// Fetched returns a channel closed once the first fetch has finished and
// its outcome (credentials or the error) is what Credentials answers.
func (r *Refresher) Fetched() <-chan struct{} { return r.fetched }

// Obtained returns when the current credentials were obtained.
//
// Deprecated: a refresh between Credentials and Obtained pairs one set's
// keys with another's time; use Snapshot or CredentialsObtained.
func (r *Refresher) Obtained() time.Time { return r.state.Load().obtained }

// Stats returns a copy of the counters, from one state.
func (r *Refresher) Stats() Stats {
	s := r.state.Load()
	st := Stats{Fetches: s.fetches, Failures: s.failures, LastRefresh: s.lastRefresh, NextRefresh: s.nextRefresh}
	if s.lastErr != nil {
		st.LastError = s.lastErr.Error()
	}
	return st
}

// update stores a copy of the state changed by f.
func (r *Refresher) update(f func(*state)) *state {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := *r.state.Load()
	f(&next)
	r.state.Store(&next)
	return &next
}

// Refresh asks the loop to refresh now. It does not wait.
func (r *Refresher) Refresh() { r.poke() }

func (r *Refresher) poke() {
	r.waiting.Store(true)
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run fetches at once and then keeps the credentials fresh until ctx ends.
// It returns nil when ctx is cancelled.
func (r *Refresher) Run(ctx context.Context) error {
	failures := 0
	var next time.Time // zero: refresh now
	for {
		now := r.opts.Clock.Now()
		idle := r.idling(now)
		if (!now.Before(next) || r.due(now)) && !idle {
			var ok bool
			if ok, next = r.fetch(ctx, failures); ok {
				failures = 0
			} else {
				failures++
			}
		}
		wait := next.Sub(r.opts.Clock.Now())
		wait = min(wait, r.opts.CheckInterval)
		if idle {
			wait = r.opts.CheckInterval // until a reader wakes it (lazy.go)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.opts.Clock.After(max(wait, 0)):
		case <-r.wake:
			// A reader found the set under MinRemaining (after a resume from
			// sleep, say). The loop head refreshes at once when the wall
			// clock confirms it; during a backoff the backoff stands, so a
			// burst of readers never becomes a burst of STS calls.
		}
	}
}

// due reports whether the current set has fallen under MinRemaining by the
// wall clock, e.g. after the machine slept through the planned refresh.
//
// A set obtained less than minRefreshGap ago is never due: when STS grants
// less than MinRemaining (role chaining caps sessions at an hour) every
// read would otherwise wake the loop into another STS call
// (TestFaults_ShortGrantDoesNotStormSTS). A clock that went back before
// the set was obtained does not hold the refresh.
func (r *Refresher) due(now time.Time) bool {
	s := r.state.Load()
	recent := !now.Before(s.obtained) && now.Sub(s.obtained) < minRefreshGap
	return s.have && s.creds.Expires.Sub(now) < r.opts.MinRemaining && s.lastErr == nil && !recent
}

// nextRefresh plans the refresh of a set that expires at expires:
// MinRemaining plus up to Jitter before its expiry, and not sooner than
// minRefreshGap from now.
func (r *Refresher) nextRefresh(expires, now time.Time) time.Time {
	if r.opts.Scheduler != nil {
		return r.scheduledRefresh(expires, now)
	}
	jitter := time.Duration(r.opts.Rand() * float64(r.opts.Jitter))
	at := expires.Add(-r.opts.MinRemaining - jitter)
	if floor := now.Add(minRefreshGap); at.Before(floor) {
		at = floor
	}
	return at
}

// backoff returns the wait after n consecutive failures: BackoffBase doubled
// per failure, capped at BackoffMax, with jitter in [d/2, d).
func (r *Refresher) backoff(n int) time.Duration {
	d := r.opts.BackoffBase
	for i := 1; i < n && d < r.opts.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, r.opts.BackoffMax)
	return d/2 + time.Duration(r.opts.Rand()*float64(d/2))
}

// fetch calls the Fetcher once and stores the outcome with the time of the
// next refresh, in one state, so that Snapshot never shows a new outcome
// with the old plan. failures is the number of failures in a row before
// this one. It reports success and returns the next refresh time.
func (r *Refresher) fetch(ctx context.Context, failures int) (bool, time.Time) {
	permit, err := r.acquire(ctx)
	if err != nil {
		// Still queued when ctx ended (or the scheduler stopped): no call
		// was made; try again after a backoff step.
		return false, r.opts.Clock.Now().Add(r.backoff(failures + 1))
	}
	creds, err := r.fetchOnce(ctx)
	permit.Done(err)
	now := r.opts.Clock.Now()
	prev := r.state.Load()
	if err != nil && ctx.Err() != nil {
		// Shutting down: count the call, record no failure.
		next := now.Add(r.backoff(failures + 1))
		r.update(func(s *state) { s.fetches++; s.nextRefresh = next })
		return false, next
	}
	if err != nil {
		next := now.Add(r.backoff(failures + 1))
		// A role waiting for an MFA code made no STS call: the counts of
		// calls and failures (status's STS CALLS and FAILURES) stay
		// (issue 16 item 10).
		called := int64(1)
		if Classify(err) == KindNeedsMFA {
			called = 0
		}
		// Only the sanitized failure is kept, logged and shown: STS's text
		// is unbounded and may echo secrets (issue 15 item 9, sanitize.go).
		safe := Sanitize(r.opts.Name, err)
		kind, code := safe.Kind, safe.Code
		r.update(func(s *state) {
			s.fetches += called
			s.failures += called
			s.lastErr, s.lastKind, s.lastCode = safe, kind, code
			s.nextRefresh = next
		})
		if prev.lastErr == nil || failureKey(prev.lastErr, prev.lastKind, prev.lastCode) != failureKey(safe, kind, code) {
			r.log.Error("refresh failed", "err", safe.Error(), "kind", kind, "code", code, "serving_until", r.servingUntil(prev))
		}
		// Closed after the log line: whoever waits on Fetched sees the
		// whole outcome, the line included.
		r.fetchedOnce.Do(func() { close(r.fetched) })
		r.lazy.fetchEnded()
		return false, next
	}
	next := r.nextRefresh(creds.Expires, now)
	r.update(func(s *state) {
		s.creds, s.have, s.obtained = creds, true, now
		s.fetches++
		s.lastErr, s.lastKind, s.lastCode = nil, KindNone, ""
		s.lastRefresh, s.nextRefresh = now, next
	})
	attrs := []any{"access_key", KeyTail(creds.AccessKeyID), "expires", creds.Expires.UTC().Format(time.RFC3339)}
	if prev.lastErr != nil {
		r.log.Info("refresh recovered", attrs...)
	} else {
		r.log.Info("refreshed", attrs...)
	}
	r.fetchedOnce.Do(func() { close(r.fetched) })
	r.lazy.fetchEnded()
	return true, next
}

// fetchOnce calls the Fetcher within FetchTimeout and checks what it
// returned. A fetch cut off by the timeout says so, naming the limit
// (issue 16: a hung STS said only "context deadline exceeded").
func (r *Refresher) fetchOnce(ctx context.Context) (aws.Credentials, error) {
	fctx, cancel := context.WithTimeout(ctx, r.opts.FetchTimeout)
	defer cancel()
	creds, err := r.opts.Fetcher.Fetch(fctx)
	if err != nil {
		if ctx.Err() == nil && errors.Is(fctx.Err(), context.DeadlineExceeded) {
			err = &FetchTimeoutError{Limit: r.opts.FetchTimeout, Err: err}
		}
		return aws.Credentials{}, err
	}
	if creds.CanExpire && !creds.Expires.After(r.opts.Clock.Now()) {
		return aws.Credentials{}, fmt.Errorf("source returned credentials that expired at %s", creds.Expires.UTC().Format(time.RFC3339))
	}
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return aws.Credentials{}, errors.New("source returned empty credentials")
	}
	return creds, nil
}

// servingUntil tells, for the log, until when the last good set is served.
func (r *Refresher) servingUntil(s *state) string {
	if !s.have {
		return "nothing to serve"
	}
	return s.creds.Expires.Add(-r.opts.GraceRemaining).UTC().Format(time.RFC3339)
}

// KeyTail returns the last four characters of an access key ID, the most of
// it that imdsd ever logs.
func KeyTail(id string) string {
	if len(id) <= 4 {
		return "****"
	}
	return "…" + id[len(id)-4:]
}
