package testutil_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imdsd/imdsd/internal/testutil"
)

// clockSeam is the shape of roles.Clock, restated here so that this test
// proves the structural fit without importing roles.
type clockSeam interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

var _ clockSeam = (*testutil.Clock)(nil)

// fired reports whether ch has a value, without blocking.
func fired(ch <-chan time.Time) (time.Time, bool) {
	select {
	case t := <-ch:
		return t, true
	default:
		return time.Time{}, false
	}
}

func TestClock_AfterFiresWhenAdvancedPast(t *testing.T) {
	tests := map[string]struct {
		after   time.Duration
		advance []time.Duration
		want    bool // fired after all advances
	}{
		"not yet":             {after: time.Minute, advance: []time.Duration{59 * time.Second}, want: false},
		"exactly at deadline": {after: time.Minute, advance: []time.Duration{time.Minute}, want: true},
		"past in two steps":   {after: time.Minute, advance: []time.Duration{30 * time.Second, 31 * time.Second}, want: true},
		"zero fires at once":  {after: 0, want: true},
		"negative fires":      {after: -time.Second, want: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := testutil.NewClock(time.Time{})
			ch := c.After(tc.after)
			for _, d := range tc.advance {
				c.Advance(d)
			}
			got, ok := fired(ch)
			if ok != tc.want {
				t.Fatalf("fired = %v, want %v", ok, tc.want)
			}
			if ok && !got.Equal(c.Now()) {
				t.Errorf("channel carried %v, want the clock's time %v", got, c.Now())
			}
			if _, again := fired(ch); again {
				t.Error("timer fired twice")
			}
		})
	}
}

func TestClock_NowAdvanceJump(t *testing.T) {
	start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c := testutil.NewClock(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("Now = %v, want %v", got, start)
	}
	if got := testutil.NewClock(time.Time{}).Now(); !got.Equal(testutil.Epoch) {
		t.Fatalf("zero start: Now = %v, want Epoch %v", got, testutil.Epoch)
	}
	ch := c.After(time.Hour)
	c.Jump(2 * time.Hour) // the wall clock moves; the timer still has an hour
	if got, want := c.Now(), start.Add(2*time.Hour); !got.Equal(want) {
		t.Fatalf("after Jump: Now = %v, want %v", got, want)
	}
	if _, ok := fired(ch); ok {
		t.Fatal("Jump fired a timer")
	}
	if at, ok := c.Next(); !ok || !at.Equal(start.Add(3*time.Hour)) {
		t.Fatalf("Next after Jump = %v %v, want %v", at, ok, start.Add(3*time.Hour))
	}
	c.Advance(time.Hour)
	if _, ok := fired(ch); !ok {
		t.Fatal("timer did not fire an hour of Advance after the Jump")
	}
}

func TestClock_PendingAndNext(t *testing.T) {
	c := testutil.NewClock(time.Time{})
	if _, ok := c.Next(); ok || c.Pending() != 0 {
		t.Fatalf("new clock: Next ok %v, Pending %d; want none", ok, c.Pending())
	}
	late, early := c.After(2*time.Minute), c.After(time.Minute)
	_ = c.After(0) // fires at once; never pending
	if n := c.Pending(); n != 2 {
		t.Fatalf("Pending = %d, want 2", n)
	}
	if at, _ := c.Next(); !at.Equal(testutil.Epoch.Add(time.Minute)) {
		t.Fatalf("Next = %v, want the earlier deadline", at)
	}
	c.Advance(90 * time.Second)
	if _, ok := fired(early); !ok {
		t.Fatal("earlier timer did not fire")
	}
	if _, ok := fired(late); ok {
		t.Fatal("later timer fired early")
	}
	if n := c.Pending(); n != 1 {
		t.Fatalf("Pending after one fired = %d, want 1", n)
	}
}

// TestClock_WaitPending: a goroutine asks for timers; WaitPending returns
// once it has, with no sleep on either side.
func TestClock_WaitPending(t *testing.T) {
	c := testutil.NewClock(time.Time{})
	var wg sync.WaitGroup
	results := make(chan time.Time, 3)
	for range 3 {
		wg.Go(func() { results <- <-c.After(time.Second) })
	}
	c.WaitPending(t, 3)
	c.Advance(time.Second)
	wg.Wait()
	close(results)
	n := 0
	for range results {
		n++
	}
	if n != 3 {
		t.Fatalf("%d timers fired, want 3", n)
	}
}

// recorder is a testing.TB that records a Fatalf instead of stopping.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = fmt.Sprintf(format, args...)
}

func (r *recorder) message() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func TestClock_WaitPendingFailsWhenNothingWaits(t *testing.T) {
	c := testutil.NewClock(time.Time{})
	c.WaitTimeout = 5 * time.Millisecond
	_ = c.After(time.Second)
	rec := &recorder{TB: t}
	c.WaitPending(rec, 2)
	if msg := rec.message(); !strings.Contains(msg, "2 pending timers") || !strings.Contains(msg, "1 pending") {
		t.Fatalf("failure message = %q, want it to name the 2 awaited and the 1 pending", msg)
	}
}
