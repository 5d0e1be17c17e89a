package testutil

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// DefaultWaitTimeout bounds Clock.WaitPending when Clock.WaitTimeout is
// zero. It only stops a hung test; no test asserts it.
const DefaultWaitTimeout = 20 * time.Second

// Epoch is the time a Clock from NewClock(time.Time{}) starts at: a fixed
// instant, so runs are reproducible.
var Epoch = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// Clock is a fake clock moved by hand. Its After channels fire only when
// Advance moves the clock to or past their deadline, so a test drives a
// timer loop step by step with no sleep; WaitPending waits (on an event,
// not by polling) until the code under test has asked for its timers.
//
// Clock has the method set of the Now/After clock seams in imdsd (such as
// roles.Clock) and satisfies them structurally. It is safe for concurrent
// use.
type Clock struct {
	// WaitTimeout bounds WaitPending; DefaultWaitTimeout when zero. Set it
	// before the clock is shared.
	WaitTimeout time.Duration

	mu     sync.Mutex
	now    time.Time
	timers []timer
	// changed is closed, and replaced, whenever a timer is added, so that
	// WaitPending wakes without polling.
	changed chan struct{}
}

type timer struct {
	at time.Time
	ch chan time.Time
}

// NewClock returns a Clock that reads start, or Epoch when start is zero.
func NewClock(start time.Time) *Clock {
	if start.IsZero() {
		start = Epoch
	}
	return &Clock{now: start}
}

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the clock's time once Advance has
// moved it d or more past now. For d <= 0 the channel has a value at once
// and no timer is left pending, as with time.After.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.timers = append(c.timers, timer{at: c.now.Add(d), ch: ch})
	close(c.changedLocked())
	c.changed = make(chan struct{})
	return ch
}

// changedLocked returns the channel closed at the next timer change; a
// zero Clock makes it on first use.
func (c *Clock) changedLocked() chan struct{} {
	if c.changed == nil {
		c.changed = make(chan struct{})
	}
	return c.changed
}

// Advance moves the clock forward by d and fires, in deadline order, every
// timer whose deadline is now reached.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	slices.SortStableFunc(c.timers, func(a, b timer) int { return a.at.Compare(b.at) })
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			kept = append(kept, t)
			continue
		}
		t.ch <- c.now
	}
	clear(c.timers[len(kept):])
	c.timers = kept
}

// Jump moves the wall clock by d without bringing any timer closer, as a
// resume from suspend does on Linux: CLOCK_MONOTONIC stood still while the
// machine slept, so pending timers still have as long to run as before.
func (c *Clock) Jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for i := range c.timers {
		c.timers[i].at = c.timers[i].at.Add(d)
	}
}

// Pending returns the number of timers that have not fired. A timer whose
// channel the caller stopped reading (a select that took another case)
// stays pending until Advance reaches it, as an unstopped time.Timer does.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Next returns the earliest pending deadline, and false when no timer is
// pending.
func (c *Clock) Next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return time.Time{}, false
	}
	at := c.timers[0].at
	for _, t := range c.timers[1:] {
		if t.at.Before(at) {
			at = t.at
		}
	}
	return at, true
}

// WaitPending blocks until at least n timers are pending: the code under
// test has gone to sleep on the clock. It fails tb if that does not happen
// within WaitTimeout of real time.
func (c *Clock) WaitPending(tb testing.TB, n int) {
	tb.Helper()
	timeout := c.WaitTimeout
	if timeout == 0 {
		timeout = DefaultWaitTimeout
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		have, changed := len(c.timers), c.changedLocked()
		c.mu.Unlock()
		if have >= n {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			tb.Fatalf("gave up after %s waiting for %d pending timers on the fake clock; %d pending", timeout, n, c.Pending())
			return
		}
	}
}
