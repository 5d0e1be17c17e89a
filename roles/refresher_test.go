package roles

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/imdsd/imdsd/internal/testutil"
)

// fakeFetcher hands out credentials expiring `life` after the clock's now,
// or the error set with fail.
type fakeFetcher struct {
	clk   *testutil.Clock
	life  time.Duration
	calls atomic.Int64
	mu    sync.Mutex
	err   error
	times []time.Time
}

func (f *fakeFetcher) Fetch(context.Context) (aws.Credentials, error) {
	n := f.calls.Add(1)
	now := f.clk.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.times = append(f.times, now)
	if f.err != nil {
		return aws.Credentials{}, f.err
	}
	return aws.Credentials{
		AccessKeyID:     fmt.Sprintf("ASIAFAKE%012d", n),
		SecretAccessKey: fmt.Sprintf("secret-%d-do-not-log", n),
		SessionToken:    fmt.Sprintf("token-%d-do-not-log", n),
		CanExpire:       true,
		Expires:         now.Add(f.life),
		AccountID:       "123456789012",
	}, nil
}

func (f *fakeFetcher) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeFetcher) callTimes() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.times...)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// roles.Clock is satisfied by the shared fake clock.
var _ Clock = (*testutil.Clock)(nil)

type harness struct {
	clk  *testutil.Clock
	f    *fakeFetcher
	r    *Refresher
	logs *syncBuffer
	stop func()
}

// start runs a Refresher on a fake clock with a fixed jitter draw of rnd
// and waits for its first fetch to finish.
func start(t *testing.T, life time.Duration, rnd float64, failFirst error) *harness {
	t.Helper()
	clk := testutil.NewClock(time.Time{})
	f := &fakeFetcher{clk: clk, life: life, err: failFirst}
	logs := &syncBuffer{}
	r, err := NewRefresher(RefresherOptions{
		Name:    "demo",
		Fetcher: f,
		Clock:   clk,
		Logger:  slog.New(slog.NewTextHandler(logs, nil)),
		Rand:    func() float64 { return rnd },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	h := &harness{clk: clk, f: f, r: r, logs: logs, stop: func() { cancel(); <-done }}
	t.Cleanup(func() {
		h.stop()
		for _, secret := range []string{"do-not-log"} {
			if strings.Contains(logs.String(), secret) {
				t.Errorf("logs contain a secret:\n%s", logs.String())
			}
		}
	})
	clk.WaitPending(t, 1)
	return h
}

// advance moves the fake clock by d, stopping at every timer deadline on
// the way so the loop runs exactly when it would have.
func (h *harness) advance(t *testing.T, d time.Duration) {
	t.Helper()
	target := h.clk.Now().Add(d)
	for {
		h.clk.WaitPending(t, 1)
		at, ok := h.clk.Next()
		now := h.clk.Now()
		if !ok || at.After(target) {
			h.clk.Advance(target.Sub(now))
			return
		}
		h.clk.Advance(at.Sub(now))
	}
}

func TestRefresher_RefreshAheadWithJitter(t *testing.T) {
	h := start(t, time.Hour, 0.5, nil)
	if n := h.f.calls.Load(); n != 1 {
		t.Fatalf("fetches after start = %d, want 1", n)
	}
	first, err := h.r.Credentials()
	if err != nil {
		t.Fatalf("Credentials after first fetch: %v", err)
	}
	// Planned refresh: expiry − 30m − 0.5×5m = 27m30s after the fetch.
	want := first.Expires.Add(-DefaultMinRemaining - DefaultJitter/2)
	if got := h.r.Stats().NextRefresh; !got.Equal(want) {
		t.Fatalf("NextRefresh = %v, want %v", got, want)
	}
	h.advance(t, 27*time.Minute)
	if n := h.f.calls.Load(); n != 1 {
		t.Fatalf("fetches 27m after start = %d, want 1 (refresh not due)", n)
	}
	h.advance(t, time.Minute)
	if n := h.f.calls.Load(); n != 2 {
		t.Fatalf("fetches 28m after start = %d, want 2", n)
	}
	if got := h.f.callTimes()[1]; !got.Equal(want) {
		t.Errorf("second fetch at %v, want %v", got, want)
	}
	second, err := h.r.Credentials()
	if err != nil || second.AccessKeyID == first.AccessKeyID {
		t.Fatalf("after refresh: key %q err %v, want a new set", second.AccessKeyID, err)
	}
	if left := second.Expires.Sub(h.clk.Now()); left < DefaultMinRemaining {
		t.Errorf("served set has %s left, want at least %s", left, DefaultMinRemaining)
	}
}

func TestRefresher_JitterSpreadsRefreshes(t *testing.T) {
	for _, rnd := range []float64{0, 0.999} {
		h := start(t, time.Hour, rnd, nil)
		c, _ := h.r.Credentials()
		want := c.Expires.Add(-DefaultMinRemaining - time.Duration(rnd*float64(DefaultJitter)))
		if got := h.r.Stats().NextRefresh; !got.Equal(want) {
			t.Errorf("rand %v: NextRefresh = %v, want %v", rnd, got, want)
		}
	}
}

func TestRefresher_NeverServesUnderMinRemainingWhileHealthy(t *testing.T) {
	h := start(t, time.Hour, 0.999, nil)
	// Walk three hours in one-minute steps; at every step a healthy
	// refresher serves at least MinRemaining.
	for i := 0; i < 180; i++ {
		h.advance(t, time.Minute)
		c, err := h.r.Credentials()
		if err != nil {
			t.Fatalf("minute %d: %v", i, err)
		}
		if left := c.Expires.Sub(h.clk.Now()); left < DefaultMinRemaining {
			t.Fatalf("minute %d: served a set with %s left", i, left)
		}
	}
	// One hour credentials refreshed every ~25-30 minutes: 6 or 7 refreshes
	// in three hours plus the first fetch.
	if n := h.f.calls.Load(); n < 7 || n > 8 {
		t.Errorf("fetches in 3h = %d, want 7 or 8", n)
	}
}

func TestRefresher_BackoffCappedExponential(t *testing.T) {
	h := start(t, time.Hour, 0, errors.New("RequestError: connection refused"))
	h.advance(t, 10*time.Minute)
	times := h.f.callTimes()
	// With the jitter draw at 0 each wait is half the step:
	// 0.5s 1s 2s 4s 8s 16s 30s 30s ...
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	if len(times) < len(want)+1 {
		t.Fatalf("only %d fetches in 10 minutes of failure", len(times))
	}
	for i, w := range want {
		if got := times[i+1].Sub(times[i]); got != w {
			t.Errorf("wait before retry %d = %s, want %s", i+1, got, w)
		}
	}
	if n := strings.Count(h.logs.String(), "refresh failed"); n != 1 {
		t.Errorf("%d 'refresh failed' log lines for one unchanging error, want 1:\n%s", n, h.logs.String())
	}
	if _, err := h.r.Credentials(); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Credentials before any success: err = %v, want the STS failure", err)
	}
}

func TestRefresher_LogsEachChangeOnce(t *testing.T) {
	h := start(t, time.Hour, 0, errors.New("Throttling: Rate exceeded"))
	h.advance(t, 2*time.Minute)
	h.f.fail(errors.New("AccessDenied: not authorized to perform sts:AssumeRole"))
	h.advance(t, 2*time.Minute)
	h.f.fail(nil)
	h.advance(t, 2*time.Minute)
	logs := h.logs.String()
	if n := strings.Count(logs, "refresh failed"); n != 2 {
		t.Errorf("'refresh failed' lines = %d, want 2 (one per distinct error):\n%s", n, logs)
	}
	if !strings.Contains(logs, "refresh recovered") {
		t.Errorf("no 'refresh recovered' line after success:\n%s", logs)
	}
	if _, err := h.r.Credentials(); err != nil {
		t.Errorf("after recovery: %v", err)
	}
}

func TestRefresher_GraceWhileSTSFails(t *testing.T) {
	h := start(t, time.Hour, 0, nil)
	good, _ := h.r.Credentials()
	h.f.fail(errors.New("InternalFailure: STS is down"))
	// From 30 down to 15 minutes left, the last good set is still served.
	h.advance(t, 44*time.Minute)
	c, err := h.r.Credentials()
	if err != nil || c.AccessKeyID != good.AccessKeyID {
		t.Fatalf("16m left while failing: %v, want the last good set", err)
	}
	h.advance(t, 2*time.Minute) // 14 minutes left
	_, err = h.r.Credentials()
	if err == nil || !strings.Contains(err.Error(), "STS is down") {
		t.Fatalf("14m left while failing: err = %v, want an error naming the cause", err)
	}
	// STS comes back: within one backoff step (at most a minute).
	h.f.fail(nil)
	h.advance(t, DefaultBackoffMax)
	if c, err := h.r.Credentials(); err != nil || c.AccessKeyID == good.AccessKeyID {
		t.Fatalf("one backoff step after STS recovered: err %v", err)
	}
}

func TestRefresher_ResumeFromSuspend(t *testing.T) {
	h := start(t, time.Hour, 0, nil)
	old, _ := h.r.Credentials()
	// The laptop sleeps for two hours: the wall clock jumps, the loop's
	// monotonic timer has not fired.
	h.clk.Jump(2 * time.Hour)
	if _, err := h.r.Credentials(); err == nil {
		t.Fatal("served credentials that expired during suspend")
	}
	// The read above asked for a refresh; the loop does it at once and
	// sleeps again: a second timer beside the one it was woken from.
	h.clk.WaitPending(t, 2)
	c, err := h.r.Credentials()
	if err != nil || c.AccessKeyID == old.AccessKeyID {
		t.Fatalf("after resume: err %v, want a fresh set", err)
	}
	if n := h.f.calls.Load(); n != 2 {
		t.Errorf("fetches = %d, want 2", n)
	}
}

// TestRefresher_SingleflightUnderLoad: 1,000 concurrent readers find the
// set under MinRemaining; exactly one STS call follows.
func TestRefresher_SingleflightUnderLoad(t *testing.T) {
	h := start(t, time.Hour, 0, nil)
	h.clk.Jump(35 * time.Minute) // 25 minutes left: due, still servable
	var wg sync.WaitGroup
	var served, failed atomic.Int64
	startGate := make(chan struct{})
	for range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startGate
			if _, err := h.r.Credentials(); err != nil {
				failed.Add(1)
				return
			}
			served.Add(1)
		}()
	}
	close(startGate)
	wg.Wait()
	// The loop woke, refreshed and went back to sleep: a second timer.
	h.clk.WaitPending(t, 2)
	if failed.Load() != 0 || served.Load() != 1000 {
		t.Errorf("served %d, failed %d; want all 1000 served", served.Load(), failed.Load())
	}
	// More readers after the refresh cause no further call.
	for range 1000 {
		_, _ = h.r.Credentials()
	}
	h.clk.WaitPending(t, 2)
	if n := h.f.calls.Load(); n != 2 {
		t.Errorf("STS calls = %d, want 2 (the first fetch and exactly one refresh)", n)
	}
}

func TestRefresher_RejectsBadFetches(t *testing.T) {
	clk := testutil.NewClock(time.Time{})
	tests := map[string]aws.Credentials{
		"already expired": {AccessKeyID: "A", SecretAccessKey: "S", CanExpire: true, Expires: clk.Now().Add(-time.Minute)},
		"empty":           {},
	}
	for name, creds := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := NewRefresher(RefresherOptions{
				Fetcher: FetcherFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
				Clock:   clk, Logger: slog.New(slog.NewTextHandler(&syncBuffer{}, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			if ok, _ := r.fetch(context.Background(), 0); ok {
				t.Fatal("fetch accepted unusable credentials")
			}
			if _, err := r.Credentials(); err == nil {
				t.Fatal("Credentials served unusable credentials")
			}
		})
	}
}

func TestNewRefresher_Validates(t *testing.T) {
	if _, err := NewRefresher(RefresherOptions{}); err == nil {
		t.Error("NewRefresher without a Fetcher succeeded")
	}
	f := FetcherFunc(func(context.Context) (aws.Credentials, error) { return aws.Credentials{}, nil })
	if _, err := NewRefresher(RefresherOptions{Fetcher: f, MinRemaining: 10 * time.Minute, GraceRemaining: 20 * time.Minute}); err == nil {
		t.Error("grace above min remaining accepted")
	}
}

func TestKeyTail(t *testing.T) {
	for in, want := range map[string]string{"ASIAABCDEFGHIJKL1234": "…1234", "abc": "****", "": "****"} {
		if got := KeyTail(in); got != want {
			t.Errorf("KeyTail(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRefresher_FetchedMeansServable: once Fetched is closed, Credentials
// answers with the first fetch's outcome, never "waiting for the first
// credentials" (a reload publishes a new role only after Fetched).
func TestRefresher_FetchedMeansServable(t *testing.T) {
	for _, failing := range []bool{false, true} {
		clk := testutil.NewClock(time.Time{})
		f := &fakeFetcher{clk: clk, life: time.Hour}
		if failing {
			f.err = errors.New("AccessDenied: no")
		}
		r, err := NewRefresher(RefresherOptions{Fetcher: f, Clock: clk, Logger: slog.New(slog.NewTextHandler(&syncBuffer{}, nil))})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-r.Fetched():
			t.Fatal("Fetched closed before any fetch")
		default:
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = r.Run(ctx) }()
		<-r.Fetched()
		_, err = r.Credentials()
		if errors.Is(err, ErrNotReady) {
			t.Errorf("failing=%v: Credentials after Fetched = %v, want the first fetch's outcome", failing, err)
		}
		if !failing && err != nil {
			t.Errorf("Credentials after a good first fetch: %v", err)
		}
		cancel()
		<-done
	}
}

// TestRefresher_CredentialsObtainedPairs: the obtained time comes with the
// set it belongs to, before and after a refresh.
func TestRefresher_CredentialsObtainedPairs(t *testing.T) {
	h := start(t, time.Hour, 0, nil)
	c1, at1, err := h.r.CredentialsObtained()
	if err != nil {
		t.Fatal(err)
	}
	times := h.f.callTimes()
	if len(times) != 1 || !at1.Equal(times[0]) || !at1.Equal(h.r.Obtained()) {
		t.Fatalf("first set obtained at %v, want the fetch's time %v", at1, times)
	}
	h.advance(t, 40*time.Minute) // past the refresh point (30-35 min before expiry)
	c2, at2, err := h.r.CredentialsObtained()
	if err != nil {
		t.Fatal(err)
	}
	times = h.f.callTimes()
	if c2.AccessKeyID == c1.AccessKeyID || len(times) != 2 {
		t.Fatalf("no refresh after 40 minutes of a 1 h set (fetches: %d)", len(times))
	}
	if !at2.Equal(times[1]) {
		t.Fatalf("refreshed set obtained at %v, want its fetch's time %v", at2, times[1])
	}
	if c, err := h.r.Credentials(); err != nil || c.AccessKeyID != c2.AccessKeyID {
		t.Fatalf("Credentials() = %s, %v; want the set CredentialsObtained gave", c.AccessKeyID, err)
	}
}
