package roles

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/imdsd/imdsd/internal/testutil"
)

// throttled is the error STS's Throttling answer becomes in the SDK.
var throttled = &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}

func newTestScheduler(t *testing.T, opts SchedulerOptions) (*Scheduler, *testutil.Clock) {
	t.Helper()
	clk := testutil.NewClock(time.Time{})
	opts.Clock = clk
	opts.Logger = slog.New(slog.DiscardHandler)
	s, err := NewScheduler(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, clk
}

// waitFor yields until cond holds; it bounds a hung test, it asserts
// nothing about time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		runtime.Gosched()
	}
}

func TestScheduler_GrantsByPriority(t *testing.T) {
	tests := []struct {
		name    string
		def     string
		queued  []FetchRequest
		advance time.Duration // clock moved after queueing, before the grants
		want    []string      // grant order
	}{
		{
			name: "urgent before default before planned, then oldest first",
			def:  "d",
			queued: []FetchRequest{
				{Name: "p1", Priority: PriorityPlanned},
				{Name: "d", Priority: PriorityPlanned},
				{Name: "u1", Priority: PriorityUrgent},
				{Name: "p2", Priority: PriorityPlanned},
				{Name: "u2", Priority: PriorityUrgent},
			},
			want: []string{"u1", "u2", "d", "p1", "p2"},
		},
		{
			name: "a planned refresh past its UrgentAt jumps the queue",
			queued: []FetchRequest{
				{Name: "p1", Priority: PriorityPlanned},
				{Name: "near-expiry", Priority: PriorityPlanned, UrgentAt: testutil.Epoch.Add(time.Minute)},
				{Name: "not-yet", Priority: PriorityPlanned, UrgentAt: testutil.Epoch.Add(time.Hour)},
			},
			advance: 2 * time.Minute,
			want:    []string{"near-expiry", "p1", "not-yet"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, clk := newTestScheduler(t, SchedulerOptions{MaxInFlight: 1, Rate: 1000, Burst: 100})
			s.SetDefault(tc.def)
			ctx := context.Background()
			hold, err := s.Acquire(ctx, FetchRequest{Name: "hold", Priority: PriorityUrgent})
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan string, len(tc.queued))
			for i, req := range tc.queued {
				go func() {
					p, err := s.Acquire(ctx, req)
					if err != nil {
						t.Error(err)
						return
					}
					got <- req.Name
					p.Done(nil)
				}()
				waitFor(t, "queued", func() bool { return s.Stats().Queued == i+1 })
			}
			clk.Advance(tc.advance)
			hold.Done(nil)
			for i, want := range tc.want {
				if name := <-got; name != want {
					t.Fatalf("grant %d: got %q, want %q", i, name, want)
				}
			}
		})
	}
}

func TestScheduler_BoundsInFlightAndRate(t *testing.T) {
	tests := []struct {
		name        string
		opts        SchedulerOptions
		requests    int
		steps       []time.Duration // clock advances, each followed by a check
		wantGranted []int           // granted after queueing, then after each step
	}{
		{"in flight caps the grants", SchedulerOptions{MaxInFlight: 3, Rate: 1000, Burst: 100}, 10, nil, []int{3}},
		{"bucket gives Burst at once, then Rate per second, never more than Burst",
			SchedulerOptions{MaxInFlight: 100, Rate: 2, Burst: 2}, 10,
			[]time.Duration{500 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second},
			[]int{2, 3, 4, 6}}, // 2 s idle fills only Burst (2), not 4
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, clk := newTestScheduler(t, tc.opts)
			ctx, cancel := context.WithCancel(context.Background())
			ran := make(chan struct{})
			go func() { _ = s.Run(ctx); close(ran) }()
			defer func() { cancel(); <-ran }()
			for range tc.requests {
				go func() { _, _ = s.Acquire(ctx, FetchRequest{Priority: PriorityUrgent}) }()
			}
			waitFor(t, "all asked", func() bool { st := s.Stats(); return int(st.Granted)+st.Queued == tc.requests })
			check := func(step int) {
				t.Helper()
				want := tc.wantGranted[step]
				waitFor(t, fmt.Sprintf("%d grants at step %d", want, step), func() bool { return s.Stats().Granted >= int64(want) })
				if st := s.Stats(); st.Granted != int64(want) || st.InFlight > tc.opts.MaxInFlight {
					t.Fatalf("step %d: granted %d, in flight %d; want %d granted, at most %d in flight", step, st.Granted, st.InFlight, want, tc.opts.MaxInFlight)
				}
			}
			check(0)
			for i, d := range tc.steps {
				clk.WaitPending(t, 1)
				clk.Advance(d)
				check(i + 1)
			}
		})
	}
}

func TestScheduler_ThrottleCutsRateForAllAndRecovers(t *testing.T) {
	type event struct {
		advance  time.Duration
		err      error
		wantRate float64
	}
	tests := []struct {
		name   string
		events []event
	}{
		{"a throttle halves the rate", []event{{0, throttled, 10}}},
		{"a burst of throttles cuts once", []event{{0, throttled, 10}, {time.Second, throttled, 10}, {0, throttled, 10}}},
		{"throttles apart cut again, down to the floor", []event{
			{0, throttled, 10}, {2 * time.Second, throttled, 5}, {2 * time.Second, throttled, 2.5},
			{2 * time.Second, throttled, 1.25}, {2 * time.Second, throttled, 0.625}, {2 * time.Second, throttled, 0.625}}},
		{"other errors do not cut", []event{{0, errors.New("connection refused"), 20}, {0, &smithy.GenericAPIError{Code: "AccessDenied"}, 20}}},
		{"RequestLimitExceeded and TooManyRequestsException are throttles too", []event{
			{0, &smithy.GenericAPIError{Code: "RequestLimitExceeded"}, 10},
			{3 * time.Second, &smithy.GenericAPIError{Code: "TooManyRequestsException"}, 5}}},
		{"successes grow it back a tenth per RecoverEvery", []event{
			{0, throttled, 10}, {time.Second, nil, 10}, {10 * time.Second, nil, 12},
			{time.Second, nil, 12}, {10 * time.Second, nil, 14}, {time.Hour, nil, 16}}},
		{"never above the configured rate", []event{{0, throttled, 10}, {time.Hour, nil, 12}, {time.Hour, nil, 14},
			{time.Hour, nil, 16}, {time.Hour, nil, 18}, {time.Hour, nil, 20}, {time.Hour, nil, 20}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, clk := newTestScheduler(t, SchedulerOptions{MaxInFlight: 100, Rate: 20, Burst: 100})
			for i, ev := range tc.events {
				clk.Advance(ev.advance)
				p, err := s.Acquire(context.Background(), FetchRequest{Priority: PriorityUrgent})
				if err != nil {
					t.Fatal(err)
				}
				p.Done(ev.err)
				if got := s.Stats().Rate; got != ev.wantRate {
					t.Fatalf("event %d: rate %g, want %g", i, got, ev.wantRate)
				}
			}
		})
	}
}

func TestScheduler_CancelledWaiterLeavesQueue(t *testing.T) {
	s, _ := newTestScheduler(t, SchedulerOptions{MaxInFlight: 1, Rate: 1000})
	hold, err := s.Acquire(context.Background(), FetchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() { _, err := s.Acquire(ctx, FetchRequest{}); errc <- err }()
	waitFor(t, "queued", func() bool { return s.Stats().Queued == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire after cancel: %v, want context.Canceled", err)
	}
	hold.Done(nil)
	hold.Done(nil) // a second Done is a no-op
	if st := s.Stats(); st.Queued != 0 || st.InFlight != 0 {
		t.Fatalf("stats %+v, want nothing queued or in flight", st)
	}
}

func TestScheduler_PhasesSpreadEvenly(t *testing.T) {
	for _, n := range []int{10, 100, 500} {
		s, _ := newTestScheduler(t, SchedulerOptions{Seed: 7})
		const bins = 10
		var count [bins]int
		for range n {
			count[int(s.Phase()*bins)]++
		}
		for i, c := range count {
			// The golden-ratio sequence puts n/bins ± 2 in each bin
			// (three-gap theorem); independent draws would put ±3√(n/bins).
			if want := n / bins; c < want-2 || c > want+2 {
				t.Errorf("n=%d: bin %d holds %d phases, want %d±2 (%v)", n, i, c, want, count)
			}
		}
		again, _ := newTestScheduler(t, SchedulerOptions{Seed: 7})
		first, _ := newTestScheduler(t, SchedulerOptions{Seed: 7})
		if a, b := again.Phase(), first.Phase(); a != b {
			t.Errorf("same seed gave phases %g and %g", a, b)
		}
	}
}

func TestNewScheduler_RejectsNegativeLimits(t *testing.T) {
	for _, o := range []SchedulerOptions{{MaxInFlight: -1}, {Rate: -1}, {Burst: -1}} {
		if _, err := NewScheduler(o); err == nil {
			t.Errorf("NewScheduler(%+v) accepted a negative limit", o)
		}
	}
}
