package roles

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/imdsd/imdsd/internal/testutil"
)

// TestLazy_IdleRoleStopsAndWakesOnRequest: with IdleAfter, a role nobody
// asks for stops calling STS after IdleAfter while the default role goes
// on; the next request finds nothing to serve, wakes it, and gets fresh
// credentials after one fetch.
func TestLazy_IdleRoleStopsAndWakesOnRequest(t *testing.T) {
	clk := testutil.NewClock(time.Time{})
	quiet := slog.New(slog.DiscardHandler)
	sched, err := NewScheduler(SchedulerOptions{Rate: 1000, Burst: 100, IdleAfter: time.Hour, Clock: clk, Logger: quiet, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	sched.SetDefault("default")
	fetchers := map[string]*fakeFetcher{}
	refs := map[string]*Refresher{}
	for _, name := range []string{"default", "unused"} {
		fetchers[name] = &fakeFetcher{clk: clk, life: time.Hour}
		refs[name], err = NewRefresher(RefresherOptions{Name: name, Fetcher: fetchers[name], Clock: clk, Logger: quiet, Scheduler: sched})
		if err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for _, r := range refs {
		wg.Go(func() { _ = r.Run(ctx) })
	}
	calls := func(name string) int64 { return fetchers[name].calls.Load() }
	var unusedAt90 int64
	for minute := 1; minute <= 180; minute++ {
		clk.WaitPending(t, len(refs))
		clk.Advance(time.Minute)
		if minute == 90 {
			clk.WaitPending(t, len(refs))
			unusedAt90 = calls("unused")
		}
	}
	clk.WaitPending(t, len(refs))
	if got := calls("unused"); got != unusedAt90 || got < 2 || got > 3 {
		t.Errorf("unused role: %d fetches at 90 min, %d at 3 h; want 2–3 in its first hour and none once idle", unusedAt90, got)
	}
	if !refs["unused"].Idle() || refs["default"].Idle() {
		t.Errorf("Idle: unused %v, default %v; want true, false", refs["unused"].Idle(), refs["default"].Idle())
	}
	if got := calls("default"); got < 7 {
		t.Errorf("default role: %d fetches in 3 h, want a refresh every 25 min (7+): the default role is never idle", got)
	}
	if _, err := refs["unused"].Credentials(); err == nil {
		t.Fatalf("idle role still served credentials after 2 h without a refresh")
	}
	before := calls("unused")
	ch := refs["unused"].Touch()
	if ch == nil {
		t.Fatal("Touch of an idle role with nothing to serve gave no fetch to wait for")
	}
	select {
	case <-ch:
	case <-time.After(30 * time.Second): // a bound, not a timing: the fetch is one local call to a fake
		t.Fatal("the woken role's fetch never finished")
	}
	if c, err := refs["unused"].Credentials(); err != nil || !c.Expires.After(clk.Now()) {
		t.Fatalf("after waking: %v, expires %s", err, c.Expires)
	}
	if got := calls("unused"); got != before+1 {
		t.Errorf("waking made %d fetches, want 1", got-before)
	}
	if refs["unused"].Idle() {
		t.Error("role still idle after a request")
	}
	if ch := refs["default"].Touch(); ch != nil {
		t.Error("Touch of a role that is not idle gave a channel to wait on")
	}
}
