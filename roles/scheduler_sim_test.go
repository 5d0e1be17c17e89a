package roles

// Many roles against moto, with the fake clock driving simulated hours:
// the scheduler's rate, in-flight bound and spread, checked on the real
// SDK client and a real STS (moto), and the figures of docs/BENCHMARKS.md
// (BenchmarkScheduler_500Roles, run by scripts/bench.sh).

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/imdsd/imdsd/internal/motoserver"
	"github.com/imdsd/imdsd/internal/testutil"
)

// simClock is the fake clock with a count of the timers asked for, so the
// simulation can tell when every loop has gone back to sleep.
type simClock struct {
	*testutil.Clock
	afters atomic.Int64
}

func (c *simClock) After(d time.Duration) <-chan time.Time {
	c.afters.Add(1)
	return c.Clock.After(d)
}

// simConfig is one simulation.
type simConfig struct {
	roles    int
	duration time.Duration // simulated
	step     time.Duration // clock step
	sched    SchedulerOptions
	// endpoint is the STS to call: moto, or the throttling stand-in.
	endpoint string
}

// simResult is what a simulation measured, in simulated time unless named
// wall.
type simResult struct {
	calls          int
	perMinute      []int // STS calls started in each simulated minute
	allServedAfter time.Duration
	allServedWall  time.Duration
	maxInFlight    int
	heapPerRole    float64 // bytes
	sched          SchedulerStats
	// bad counts reads that found no credentials, or expired ones, once
	// every role had been served.
	bad      int
	badFirst string
	// failures counts failed fetches over every role; lastErr is one
	// role's last error, if any.
	failures int64
	lastErr  string
}

// rebase maps moto's credentials onto the simulated clock: moto issues
// them for an hour of real time, and the simulation runs hours of fake
// time in seconds, so the expiry is moved to the same lifetime from the
// fake now. Everything else is what moto returned.
func rebase(f Fetcher, clk *simClock, count func(time.Time)) Fetcher {
	return FetcherFunc(func(ctx context.Context) (aws.Credentials, error) {
		count(clk.Now())
		c, err := f.Fetch(ctx)
		if err != nil {
			return c, err
		}
		c.Expires = clk.Now().Add(time.Until(c.Expires).Round(time.Minute))
		return c, nil
	})
}

func runSim(tb testing.TB, cfg simConfig) simResult {
	tb.Helper()
	return runSimWith(tb, cfg, nil)
}

// runSimWith is runSim, with hook given the fake clock before the start
// (for an STS stand-in that keeps simulated time).
func runSimWith(tb testing.TB, cfg simConfig, hook func(*simClock)) simResult {
	tb.Helper()
	isolateAWSEnvTB(tb)
	clk := &simClock{Clock: testutil.NewClock(time.Time{})}
	if hook != nil {
		hook(clk)
	}
	start := clk.Now()
	quiet := slog.New(slog.DiscardHandler)
	cfg.sched.Clock, cfg.sched.Logger = clk, quiet
	sched, err := NewScheduler(cfg.sched)
	if err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex
	var res simResult
	res.perMinute = make([]int, int(cfg.duration/time.Minute)+1)
	count := func(at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		res.calls++
		if m := int(at.Sub(start) / time.Minute); m < len(res.perMinute) {
			res.perMinute[m]++
		}
	}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	refs := make([]*Refresher, cfg.roles)
	for i := range refs {
		r, err := Resolve(context.Background(), Spec{Def: Def{
			RoleARN:     fmt.Sprintf("arn:aws:iam::123456789012:role/sim-%03d", i),
			STSEndpoint: cfg.endpoint,
			SessionName: "sim",
		}})
		if err != nil {
			tb.Fatal(err)
		}
		refs[i], err = NewRefresher(RefresherOptions{
			Name: r.Name, Fetcher: rebase(r.Fetcher, clk, count),
			Clock: clk, Logger: quiet, Scheduler: sched,
			// The wall-clock check for a resume from suspend has nothing to
			// find here; a long one spares the simulation 60 wake-ups an
			// hour per role.
			CheckInterval: 30 * time.Minute,
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	sched.SetDefault(refs[0].opts.Name)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() { _ = sched.Run(ctx) })
	wallStart := time.Now()
	for _, r := range refs {
		wg.Go(func() { _ = r.Run(ctx) })
	}
	// Every first fetch asks for its permit before the clock first moves.
	deadline := time.Now().Add(60 * time.Second)
	for st := sched.Stats(); st.Granted+int64(st.Queued) < int64(cfg.roles); st = sched.Stats() {
		if time.Now().After(deadline) {
			tb.Fatalf("the first fetches did not all ask: %+v", st)
		}
		runtime.Gosched()
	}

	served := func() bool {
		for _, r := range refs {
			if _, err := r.Credentials(); err != nil {
				return false
			}
		}
		return true
	}
	allServed := false
	for now := time.Duration(0); now <= cfg.duration; now += cfg.step {
		settle(tb, clk, sched)
		res.maxInFlight = max(res.maxInFlight, sched.Stats().MaxInFlight)
		if !allServed && served() {
			allServed = true
			res.allServedAfter, res.allServedWall = now, time.Since(wallStart)
			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			res.heapPerRole = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(cfg.roles)
		}
		if allServed {
			for _, r := range refs {
				c, err := r.Credentials()
				if err == nil && !c.Expires.After(clk.Now()) {
					err = fmt.Errorf("served credentials expired at %s", c.Expires)
				}
				if err != nil {
					if res.bad == 0 {
						res.badFirst = fmt.Sprintf("%s at +%s: %v", r.opts.Name, now, err)
					}
					res.bad++
				}
			}
		}
		// To the next step, timer by timer: the bucket's next token may
		// come sooner than a step.
		target := start.Add(now + cfg.step)
		for {
			at, ok := clk.Next()
			if !ok || at.After(target) {
				break
			}
			clk.Advance(at.Sub(clk.Now()))
			settle(tb, clk, sched)
		}
		clk.Advance(target.Sub(clk.Now()))
	}
	if !allServed {
		res.allServedAfter = -1
	}
	res.sched = sched.Stats()
	for _, r := range refs {
		st := r.Stats()
		res.failures += st.Failures
		if st.LastError != "" && res.lastErr == "" {
			res.lastErr = st.LastError
		}
	}
	return res
}

// settle waits until every loop is asleep: no fetch in flight and nothing
// new asked of the clock or the scheduler over many yields. It bounds a
// hung test; it asserts nothing about time.
func settle(tb testing.TB, clk *simClock, s *Scheduler) {
	tb.Helper()
	deadline := time.Now().Add(60 * time.Second)
	stable := 0
	last := [2]int64{-1, -1}
	for stable < 30 {
		if time.Now().After(deadline) {
			tb.Fatalf("simulation did not settle: %+v", s.Stats())
		}
		st := s.Stats()
		cur := [2]int64{clk.afters.Load(), st.Granted}
		if st.InFlight > 0 || cur != last {
			stable = 0
			last = cur
			if st.InFlight > 0 {
				time.Sleep(200 * time.Microsecond) // a real STS call is under way
			}
			continue
		}
		stable++
		runtime.Gosched()
		if stable%10 == 0 {
			time.Sleep(20 * time.Microsecond) // let woken goroutines run
		}
	}
}

// isolateAWSEnvTB clears AWS_* and gives the SDK static source keys
// and no shared files, for tests and benchmarks alike.
func isolateAWSEnvTB(tb testing.TB) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			tb.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	tb.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLESOURCE01")
	tb.Setenv("AWS_SECRET_ACCESS_KEY", "source-secret")
	tb.Setenv("AWS_CONFIG_FILE", "/dev/null")
	tb.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
}

func meanMax(per []int) (mean float64, peak int) {
	sum := 0
	for _, n := range per {
		sum += n
		peak = max(peak, n)
	}
	return float64(sum) / float64(len(per)), peak
}

// steady is the per-minute counts after start-up, when every role has
// been served once and refreshes are what is left.
func steady(res simResult, from time.Duration) []int {
	return res.perMinute[int(from/time.Minute)+1 : len(res.perMinute)-1]
}

func TestScheduler_ManyRolesAgainstMoto(t *testing.T) {
	moto := motoserver.Start(t)
	const n = 100
	res := runSim(t, simConfig{
		roles: n, duration: 2 * time.Hour, step: time.Second, endpoint: moto.URL,
		sched: SchedulerOptions{MaxInFlight: 4, Rate: 10, Seed: 1},
	})
	if res.bad != 0 {
		t.Errorf("%d reads found missing or expired credentials; first: %s", res.bad, res.badFirst)
	}
	if res.allServedAfter < 0 {
		t.Fatalf("not every role was served in 2 simulated hours")
	}
	// 100 urgent first fetches: a burst of 4, then 10/s: 9.6 s.
	if res.allServedAfter > 12*time.Second {
		t.Errorf("every role served after %s, want within 12 s at 10 calls/s", res.allServedAfter)
	}
	if res.maxInFlight > 4 {
		t.Errorf("%d calls in flight at once, want at most 4", res.maxInFlight)
	}
	// Each role refreshes every 25 min (1 h - 30 min MinRemaining - 5 min
	// slack): 100 roles make 4 calls a minute on average.
	mean, peak := meanMax(steady(res, res.allServedAfter))
	if mean < 3 || mean > 5 {
		t.Errorf("steady mean %.2f calls/min, want 4±1 (100 roles / 25 min)", mean)
	}
	if float64(peak) > 2*mean+2 {
		t.Errorf("steady peak %d calls/min against a mean of %.2f: refreshes come in waves", peak, mean)
	}
	t.Logf("failures %d (%s)", res.failures, res.lastErr)
	t.Logf("calls %d, served all after %s, steady mean %.2f/min, max %d/min, in flight max %d, heap/role %.0f B",
		res.calls, res.allServedAfter, mean, peak, res.maxInFlight, res.heapPerRole)
}

// throttlingSTS is a stand-in for STS's own throttle, which moto does not
// have: a reverse proxy to moto that answers STS's real Throttling error
// (HTTP 400, the query protocol's ErrorResponse) to calls above limit per
// simulated second, and passes the rest to moto.
type throttlingSTS struct {
	clk       *simClock
	limit     int
	proxy     *httputil.ReverseProxy
	mu        sync.Mutex
	second    time.Time
	inSecond  int
	passed    atomic.Int64
	throttled atomic.Int64
	// lastThrottle is the simulated time of the last refusal (mu).
	lastThrottle time.Time
}

const stsThrottlingBody = `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>
  <RequestId>00000000-0000-0000-0000-000000000000</RequestId>
</ErrorResponse>`

func (p *throttlingSTS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	sec := p.clk.Now().Truncate(time.Second)
	if !sec.Equal(p.second) {
		p.second, p.inSecond = sec, 0
	}
	p.inSecond++
	over := p.inSecond > p.limit
	if over {
		p.lastThrottle = p.clk.Now()
	}
	p.mu.Unlock()
	if over {
		p.throttled.Add(1)
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(stsThrottlingBody))
		return
	}
	p.passed.Add(1)
	p.proxy.ServeHTTP(w, r)
}

func TestScheduler_ThrottlingSlowsEveryRoleAndNothingExpires(t *testing.T) {
	moto := motoserver.Start(t)
	target, err := url.Parse(moto.URL)
	if err != nil {
		t.Fatal(err)
	}
	// The stand-in counts in simulated seconds: runSimWith hands it the
	// simulation's clock before any call.
	stand := &throttlingSTS{limit: 3, proxy: httputil.NewSingleHostReverseProxy(target)}
	srv := httptest.NewServer(stand)
	defer srv.Close()
	res := runSimWith(t, simConfig{
		roles: 60, duration: time.Hour, step: time.Second, endpoint: srv.URL,
		sched: SchedulerOptions{MaxInFlight: 8, Rate: 20, Seed: 2},
	}, func(c *simClock) { stand.clk = c })
	if res.bad != 0 {
		t.Errorf("%d reads found missing or expired credentials; first: %s", res.bad, res.badFirst)
	}
	if res.allServedAfter < 0 {
		t.Fatalf("not every role was served in an hour under throttling")
	}
	if stand.throttled.Load() == 0 || res.sched.Cuts == 0 {
		t.Fatalf("the stand-in throttled %d calls and the scheduler cut its rate %d times; the test did not throttle", stand.throttled.Load(), res.sched.Cuts)
	}
	if res.sched.Rate > 20 {
		t.Errorf("rate %g above the configured 20", res.sched.Rate)
	}
	// Settled: no refusal once every role is served, and every minute's
	// calls after that are under the stand-in's limit of 3/s (180/min).
	stand.mu.Lock()
	last := stand.lastThrottle
	stand.mu.Unlock()
	if servedAt := testutil.Epoch.Add(res.allServedAfter); last.After(servedAt) {
		t.Errorf("throttled at +%s, after every role was served at +%s: the rate did not settle under the limit", last.Sub(testutil.Epoch), res.allServedAfter)
	}
	_, peak := meanMax(steady(res, res.allServedAfter))
	if peak > 3*60 {
		t.Errorf("steady peak %d calls/min, above the limit of 180/min", peak)
	}
	t.Logf("throttled %d, passed %d, cuts %d, final rate %.2f/s, all served after %s, steady peak %d/min",
		stand.throttled.Load(), stand.passed.Load(), res.sched.Cuts, res.sched.Rate, res.allServedAfter, peak)
}

// BenchmarkScheduler_500Roles is the many-roles figure of
// docs/BENCHMARKS.md: 500 roles on one scheduler (the defaults) against
// moto, two simulated hours. Run once: -benchtime=1x.
func BenchmarkScheduler_500Roles(b *testing.B) {
	moto := motoserver.Start(b)
	for b.Loop() {
		res := runSim(b, simConfig{
			roles: 500, duration: 2 * time.Hour, step: time.Second, endpoint: moto.URL,
			sched: SchedulerOptions{Seed: 1},
		})
		if res.bad != 0 || res.allServedAfter < 0 {
			b.Fatalf("%d bad reads (first: %s); all served after %s", res.bad, res.badFirst, res.allServedAfter)
		}
		mean, peak := meanMax(steady(res, res.allServedAfter))
		b.ReportMetric(float64(res.calls), "sts-calls")
		b.ReportMetric(mean, "calls/min-mean")
		b.ReportMetric(float64(peak), "calls/min-max")
		b.ReportMetric(float64(peak)/mean, "max/mean")
		b.ReportMetric(float64(res.maxInFlight), "in-flight-max")
		b.ReportMetric(res.heapPerRole, "heap-B/role")
		b.ReportMetric(res.allServedAfter.Seconds(), "all-served-sim-s")
		b.ReportMetric(res.allServedWall.Seconds(), "all-served-wall-s")
	}
}
