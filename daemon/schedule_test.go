package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/imdsd/imdsd/config"
	"github.com/imdsd/imdsd/internal/motoserver"
	"github.com/imdsd/imdsd/internal/testutil"
	"github.com/imdsd/imdsd/roles"
)

// TestDaemon_RolesShareTheScheduler: the roles of the config fetch through
// one scheduler built from sts_max_in_flight and sts_rate, against moto.
func TestDaemon_RolesShareTheScheduler(t *testing.T) {
	moto := motoserver.Start(t)
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLESCHED0001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "x")
	cfg := config.Default()
	yaml := "sts_endpoint: " + moto.URL + "\nsts_max_in_flight: 1\nsts_rate: 50\nroles:\n" +
		"  a: {role_arn: 'arn:aws:iam::123456789012:role/a'}\n" +
		"  b: {role_arn: 'arn:aws:iam::123456789012:role/b'}\n" +
		"  c: {role_arn: 'arn:aws:iam::123456789012:role/c'}\n"
	if err := config.Decode([]byte(yaml), &cfg); err != nil {
		t.Fatal(err)
	}
	o, err := New(context.Background(), Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), StateFile: t.TempDir() + "/s.json"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); o.runScheduler(ctx) }()
	set := o.set.Load()
	o.startRoles(ctx, set)
	defer func() { o.stopRoles(); cancel(); <-done }()
	for _, name := range set.order {
		set.byName[name].waitFetched(ctx, 30*time.Second)
		if snap := set.byName[name].refresher.Snapshot(); snap.Err != nil {
			t.Fatalf("role %s: %v", name, snap.Err)
		}
	}
	st := o.sched.Stats()
	if st.Granted != int64(len(set.order)) || st.MaxInFlight != 1 || st.Rate != 50 {
		t.Fatalf("scheduler %+v: want %d grants, at most 1 in flight (sts_max_in_flight), rate 50 (sts_rate)", st, len(set.order))
	}
	if s := o.schedulerSample(); s.Rate != 50 || s.InFlight != 0 {
		t.Fatalf("metrics sample %+v, want rate 50, none in flight", s)
	}
}

// TestWakeRole_RequestForIdleRoleWaitsOneFetch: a request for a role gone
// idle (idle_after) whose credentials ran out is answered with fresh ones
// after one fetch, not with an error.
func TestWakeRole_RequestForIdleRoleWaitsOneFetch(t *testing.T) {
	clk := testutil.NewClock(time.Time{})
	quiet := slog.New(slog.DiscardHandler)
	sched, err := roles.NewScheduler(roles.SchedulerOptions{Rate: 1000, Burst: 10, IdleAfter: time.Hour, Clock: clk, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var fetches atomic.Int64
	r, err := roles.NewRefresher(roles.RefresherOptions{
		Name: "idle", Clock: clk, Logger: quiet, Scheduler: sched, CheckInterval: time.Hour,
		Fetcher: roles.FetcherFunc(func(context.Context) (aws.Credentials, error) {
			n := fetches.Add(1)
			return aws.Credentials{AccessKeyID: fmt.Sprintf("ASIAIDLE%04d", n), SecretAccessKey: "s", CanExpire: true, Expires: clk.Now().Add(time.Hour)}, nil
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &roleEntry{role: roles.Resolved{Name: "idle"}, refresher: r}
	ctx, cancel := context.WithCancel(context.Background())
	e.start(ctx)
	defer func() { cancel(); e.stop() }()
	<-r.Fetched()
	// Three idle hours: the planned refreshes are skipped, the set runs out.
	for range 3 {
		clk.WaitPending(t, 1)
		clk.Advance(time.Hour)
	}
	clk.WaitPending(t, 1)
	if !r.Idle() {
		t.Fatalf("role not idle after 3 h without a request (%d fetches)", fetches.Load())
	}
	before := fetches.Load()
	wakeRole(context.Background(), e)
	out := roleCredentials(e)
	if out.Err != nil || out.Credentials.AccessKeyID == "" {
		t.Fatalf("request after waking: %+v", out.Err)
	}
	if got := fetches.Load() - before; got != 1 {
		t.Errorf("waking made %d fetches, want 1", got)
	}
}
