package roles

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/imdsd/imdsd/internal/testutil"
)

// TestRefresher_SnapshotStates checks every Snapshot field through a
// refresher's life: not ready, healthy, failing within grace, failing
// under grace, recovered.
func TestRefresher_SnapshotStates(t *testing.T) {
	clk := testutil.NewClock(time.Time{})
	f := &fakeFetcher{clk: clk, life: time.Hour}
	r, err := NewRefresher(RefresherOptions{Fetcher: f, Clock: clk, Rand: func() float64 { return 0 },
		Logger: slog.New(slog.NewTextHandler(&syncBuffer{}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ignoreCreds := cmpopts.IgnoreFields(Snapshot{}, "Credentials", "Err", "LastError")

	s := r.Snapshot()
	if !errors.Is(s.Err, ErrNotReady) {
		t.Fatalf("before the first fetch: Err = %v, want ErrNotReady", s.Err)
	}
	if diff := cmp.Diff(Snapshot{LastErrorKind: KindNone, At: clk.Now()}, s, ignoreCreds); diff != "" {
		t.Fatalf("before the first fetch (-want +got):\n%s", diff)
	}

	start := clk.Now()
	if ok, _ := r.fetch(context.Background(), 0); !ok {
		t.Fatal("first fetch failed")
	}
	s = r.Snapshot()
	if s.Err != nil || s.Credentials.AccessKeyID != "ASIAFAKE000000000001" {
		t.Fatalf("healthy: key %q, Err %v; want the first set", s.Credentials.AccessKeyID, s.Err)
	}
	want := Snapshot{Obtained: start, LastErrorKind: KindNone, Fetches: 1, LastRefresh: start,
		NextRefresh: start.Add(time.Hour - DefaultMinRemaining), At: start}
	if diff := cmp.Diff(want, s, ignoreCreds); diff != "" {
		t.Fatalf("healthy (-want +got):\n%s", diff)
	}

	// STS starts failing with an API error; 20 minutes later, the set has
	// 40 minutes left.
	f.fail(apiError("AccessDenied"))
	clk.Advance(20 * time.Minute)
	r.fetch(context.Background(), 0)
	clk.Advance(15 * time.Minute) // 25 minutes left: served, refresh due
	s = r.Snapshot()
	if s.Err != nil || s.Credentials.AccessKeyID != "ASIAFAKE000000000001" || s.LastError == nil {
		t.Fatalf("failing, 25m left: key %q, Err %v, LastError %v; want the last good set and the failure", s.Credentials.AccessKeyID, s.Err, s.LastError)
	}
	want = Snapshot{Obtained: start, Refreshing: true, LastErrorKind: KindAccessDenied, LastErrorCode: "AccessDenied",
		Fetches: 2, Failures: 1, LastRefresh: start, NextRefresh: s.NextRefresh, At: start.Add(35 * time.Minute)}
	if diff := cmp.Diff(want, s, ignoreCreds); diff != "" {
		t.Fatalf("failing within grace (-want +got):\n%s", diff)
	}

	clk.Advance(20 * time.Minute) // 5 minutes left: under grace
	s = r.Snapshot()
	if s.Err == nil || !errors.Is(s.Err, s.LastError) || s.Credentials.AccessKeyID != "" || !s.Obtained.IsZero() {
		t.Fatalf("failing, 5m left: key %q obtained %v Err %v; want nothing served and an Err wrapping LastError", s.Credentials.AccessKeyID, s.Obtained, s.Err)
	}
	if s.Refreshing || s.LastErrorKind != KindAccessDenied {
		t.Fatalf("failing, 5m left: Refreshing %v kind %s", s.Refreshing, s.LastErrorKind)
	}

	f.fail(nil)
	r.fetch(context.Background(), 1)
	s = r.Snapshot()
	now := clk.Now()
	want = Snapshot{Obtained: now, LastErrorKind: KindNone, Fetches: 3, Failures: 1, LastRefresh: now,
		NextRefresh: now.Add(time.Hour - DefaultMinRemaining), At: now}
	if diff := cmp.Diff(want, s, ignoreCreds); diff != "" || s.Err != nil || s.LastError != nil {
		t.Fatalf("recovered: Err %v LastError %v (-want +got):\n%s", s.Err, s.LastError, diff)
	}
	if st := r.Stats(); st.Fetches != 3 || st.Failures != 1 || st.LastError != "" || !st.LastRefresh.Equal(now) {
		t.Fatalf("Stats after recovery = %+v, want the Snapshot's counters", st)
	}
}

// TestRefresher_SnapshotIsOneState: readers take snapshots while
// refreshes land; in each one, the credentials, obtained time, counters
// and planned refresh belong to the same fetch. A read that took them from
// two states (credentials, then counters) would mismatch: with the store
// split in two, this test failed in every run tried. The test drives fetch
// itself, so the refreshes come as fast as the machine allows.
func TestRefresher_SnapshotIsOneState(t *testing.T) {
	clk := testutil.NewClock(time.Time{})
	f := &fakeFetcher{clk: clk, life: time.Hour}
	r, err := NewRefresher(RefresherOptions{Fetcher: f, Clock: clk, Rand: func() float64 { return 0 },
		Logger: slog.New(slog.NewTextHandler(&syncBuffer{}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r.fetch(context.Background(), 0)
	const refreshes = 3000
	var stop atomic.Bool
	var wg sync.WaitGroup
	var checked, lastSeen atomic.Int64
	torn := make(chan string, 4)
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				s := r.Snapshot()
				if s.Err != nil {
					// Only a reader delayed between its state load and its
					// clock read, which then refuses the older set; nothing
					// to compare.
					continue
				}
				checked.Add(1)
				n, _ := strconv.ParseInt(strings.TrimPrefix(s.Credentials.AccessKeyID, "ASIAFAKE"), 10, 64)
				for seen := lastSeen.Load(); n > seen && !lastSeen.CompareAndSwap(seen, n); seen = lastSeen.Load() {
				}
				var bad string
				switch {
				case n != s.Fetches:
					bad = fmt.Sprintf("set %d with Fetches %d", n, s.Fetches)
				case !s.Obtained.Equal(s.LastRefresh):
					bad = fmt.Sprintf("Obtained %v with LastRefresh %v", s.Obtained, s.LastRefresh)
				case !s.NextRefresh.Equal(s.Credentials.Expires.Add(-DefaultMinRemaining)):
					bad = fmt.Sprintf("NextRefresh %v planned for another set than one expiring %v", s.NextRefresh, s.Credentials.Expires)
				case !s.Credentials.Expires.Equal(s.Obtained.Add(time.Hour)):
					bad = fmt.Sprintf("set expiring %v with Obtained %v", s.Credentials.Expires, s.Obtained)
				default:
					continue
				}
				torn <- bad
				return
			}
		})
	}
	for range refreshes {
		clk.Advance(30 * time.Minute)
		r.fetch(context.Background(), 0)
	}
	stop.Store(true)
	wg.Wait()
	close(torn)
	for e := range torn {
		t.Error("torn snapshot: " + e)
	}
	if n := checked.Load(); n < 100 || lastSeen.Load() < 2 {
		t.Fatalf("checked %d snapshots, newest set %d; too few to prove anything", n, lastSeen.Load())
	}
	t.Logf("%d consistent snapshots over %d refreshes (newest set seen: %d)", checked.Load(), refreshes, lastSeen.Load())
}

// TestRefresher_SnapshotPokes: like Credentials, a Snapshot of a set under
// MinRemaining asks the loop to refresh.
func TestRefresher_SnapshotPokes(t *testing.T) {
	h := start(t, time.Hour, 0, nil)
	h.clk.Jump(35 * time.Minute) // 25 minutes left
	if s := h.r.Snapshot(); s.Err != nil || !s.Refreshing {
		t.Fatalf("25m left: Err %v Refreshing %v, want served and refreshing", s.Err, s.Refreshing)
	}
	h.clk.WaitPending(t, 2) // the loop woke, refreshed, slept again
	s := h.r.Snapshot()
	if s.Fetches != 2 || s.Refreshing || s.Credentials.AccessKeyID != "ASIAFAKE000000000002" {
		t.Fatalf("after the poke: Fetches %d Refreshing %v key %q, want a second set", s.Fetches, s.Refreshing, s.Credentials.AccessKeyID)
	}
}
