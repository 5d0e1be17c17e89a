package roles

import (
	"context"
	"github.com/imdsd/imdsd/internal/testutil"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

// faultRig is a Refresher on a fake clock fetching from a fake STS.
type faultRig struct {
	*harness
	sts *fakeSTS
}

// startFaultRig starts the refresher with jitter and backoff draws fixed
// at 0.5. When wait is true it waits for the first fetch to finish.
func startFaultRig(t *testing.T, url string, sts *fakeSTS, clk *testutil.Clock, fetchTimeout time.Duration) *faultRig {
	t.Helper()
	logs := &syncBuffer{}
	r, err := NewRefresher(RefresherOptions{
		Name:         "demo",
		Fetcher:      stsFetcher(url),
		Clock:        clk,
		Logger:       slog.New(slog.NewTextHandler(logs, nil)),
		Rand:         func() float64 { return 0.5 },
		FetchTimeout: fetchTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	h := &harness{clk: clk, r: r, logs: logs, stop: func() { cancel(); <-done }}
	t.Cleanup(func() {
		h.stop()
		if strings.Contains(logs.String(), fakeSecretMark) {
			t.Errorf("logs contain a secret:\n%s", logs.String())
		}
	})
	clk.WaitPending(t, 1)
	return &faultRig{harness: h, sts: sts}
}

// walk advances the clock minute by minute for d and checks at each step
// that whatever is served has more than GraceRemaining left and has not
// expired. It returns the minutes served and refused.
func (g *faultRig) walk(t *testing.T, d time.Duration) (served, refused int) {
	t.Helper()
	for step := time.Duration(0); step < d; step += time.Minute {
		g.advance(t, time.Minute)
		c, err := g.r.Credentials()
		if err != nil {
			refused++
			continue
		}
		served++
		now := g.clk.Now()
		if !c.Expires.After(now) {
			t.Fatalf("served credentials that expired at %s (now %s)", c.Expires, now)
		}
		if left := c.Expires.Sub(now); left < DefaultGraceRemaining {
			t.Fatalf("served credentials with %s left, under the %s grace floor", left, DefaultGraceRemaining)
		}
	}
	return served, refused
}

// recoversWithinOneStep clears the fault and checks that fresh credentials
// are served after at most one backoff step (BackoffMax) of fake time.
func (g *faultRig) recoversWithinOneStep(t *testing.T, old string) {
	t.Helper()
	g.sts.set(stsHealthy)
	g.advance(t, DefaultBackoffMax)
	c, err := g.r.Credentials()
	if err != nil {
		t.Fatalf("one backoff step (%s) after STS recovered: %v", DefaultBackoffMax, err)
	}
	if c.AccessKeyID == old {
		t.Fatalf("one backoff step after STS recovered: still the old set")
	}
	if left := c.Expires.Sub(g.clk.Now()); left < DefaultMinRemaining {
		t.Fatalf("after recovery: %s left, want at least %s", left, DefaultMinRemaining)
	}
}

// credentialTimings times n batches of 100 Credentials calls.
func credentialTimings(t *testing.T, r *Refresher, n int) []time.Duration {
	t.Helper()
	out := make([]time.Duration, n)
	for i := range out {
		start := time.Now()
		for range 100 {
			if _, err := r.Credentials(); err != nil {
				t.Fatalf("Credentials: %v", err)
			}
		}
		out[i] = time.Since(start)
	}
	return out
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
