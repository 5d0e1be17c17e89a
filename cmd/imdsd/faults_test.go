//go:build linux

package main

// Daemon-level fault tests: the request path while STS hangs (over real
// HTTP), moto killed and restarted under load, SIGTERM under load with a
// request in flight, and SIGKILL followed by a restart. Helpers are in
// faults_helpers_test.go, faults_daemon_test.go (an in-process daemon and
// a credential load) and faults_process_test.go (daemon processes).

import (
	"fmt"
	"github.com/imdsd/imdsd/imds"
	"github.com/imdsd/imdsd/internal/motoserver"
	"github.com/imdsd/imdsd/roles"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestFaults_HangingSTSLeavesRequestsFast: while a refresh hangs in STS,
// credential GETs over HTTP are as fast as with STS healthy: the ratio of
// their medians, measured in this run, stays under 2.
func TestFaults_HangingSTSLeavesRequestsFast(t *testing.T) {
	clk := newJumpClock()
	sts := newFaultSTS(t, clk.Now)
	fetcher, err := faultFetcher(t, sts.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	rig := startFaultDaemon(t, clk, fetcher, nil)
	get := rig.credentialGetter(t)
	get() // first set in place
	healthyA := timeGets(t, get, 301)

	sts.setHang(true)
	clk.Jump(35 * time.Minute) // 25 minutes left: a refresh is due
	get()                      // the read asks the loop to refresh
	faultWait(t, "a refresh hanging in STS", func() bool { return sts.hanging.Load() == 1 })
	hung := timeGets(t, get, 301)
	if sts.hanging.Load() != 1 {
		t.Fatal("the refresh stopped hanging during the measurement; it proves nothing")
	}
	sts.setHang(false)
	healthyB := timeGets(t, get, 301)

	healthy := faultMedian(append(healthyA, healthyB...))
	ratio := float64(faultMedian(hung)) / float64(healthy)
	t.Logf("median credential GET over HTTP: healthy %s, STS hanging %s, ratio %.2f", healthy, faultMedian(hung), ratio)
	if ratio >= 2 {
		t.Fatalf("median credential GET while STS hangs is %.2f× the healthy one, want under 2", ratio)
	}
}

// TestFaults_MotoRestartedDuringLoad: clients fetch credentials without
// pause while the real STS (moto) is killed, a refresh falls due and
// fails, and moto comes back on the same port. Not one request fails,
// every document served has more than 15 minutes left, and the refresh
// succeeds on the first attempt after moto is back. (Refreshes are made
// due every 10 s of real time: MinRemaining is 59m50s of moto's 1h sets.)
func TestFaults_MotoRestartedDuringLoad(t *testing.T) {
	moto := motoserver.Start(t)
	fetcher, err := faultFetcher(t, moto.URL)
	if err != nil {
		t.Fatal(err)
	}
	rig := startFaultDaemon(t, roles.SystemClock{}, fetcher, func(o *roles.RefresherOptions) {
		o.MinRemaining, o.Jitter = 59*time.Minute+50*time.Second, time.Nanosecond
	})
	first := rig.credentialGetter(t)()

	clk := newJumpClock() // never jumped: the load checks expiries against it
	load := startCredentialLoad(t, rig, clk, 16)
	load.waitRequests(t, 500)
	moto.Stop()
	faultWait(t, "a refresh failing while moto is down", func() bool { return rig.refresher.Stats().Failures >= 1 })
	load.waitRequests(t, load.requests.Load()+500)
	motoserver.StartPort(t, moto.Port) // same port, answering when it returns; stopped by its cleanup
	failures := rig.refresher.Stats().Failures
	faultWait(t, "the refresh after moto is back", func() bool {
		c, err := rig.refresher.Credentials()
		return err == nil && c.AccessKeyID != first && rig.refresher.Stats().LastError == ""
	})
	load.waitRequests(t, load.requests.Load()+500)
	load.stop()

	st := rig.refresher.Stats()
	t.Logf("moto killed and restarted under load: %d requests by 16 clients, %d errors, %d distinct keys served, %d fetches (%d failed while moto was down)",
		load.requests.Load(), load.errors.Load(), load.keyCount(), st.Fetches, st.Failures)
	if n := load.errors.Load(); n != 0 {
		t.Fatalf("%d requests failed during the moto restart; first: %s", n, load.firstError())
	}
	if load.keyCount() < 2 {
		t.Fatalf("distinct keys served = %d, want the old and the new", load.keyCount())
	}
	// Recovery within one backoff step: once moto answers, at most one
	// attempt begun before it answered, and one that meets a keep-alive
	// connection to the killed moto still in the SDK's pool, fail.
	if extra := st.Failures - failures; extra > 2 {
		t.Errorf("failed attempts after moto restarted = %d, want at most 2", extra)
	}
}

// TestFaults_SIGTERMUnderLoad: SIGTERM while 32 clients (each from its own
// loopback address, as distinct clients) fetch credentials without pause.
// Requests under way when the signal arrives complete with credentials
// (the test counts them and fails if there were none to prove it), no
// request that reached the daemon fails, and the daemon exits 0. Go's
// server drops a connection whose request header is still incomplete
// when shutdown begins; a client then sees a reset it retries like
// "connection refused" (never a wrong answer), and the test counts those
// apart.
func TestFaults_SIGTERMUnderLoad(t *testing.T) {
	sts := newFaultSTS(t, time.Now)
	d := startFaultProcess(t, sts.srv.URL, "")
	d.waitCredentials(t)

	var reached, lost, across, dropped atomic.Int64
	var firstLost atomic.Value
	var sigAt atomic.Int64 // UnixNano of the SIGTERM, 0 before
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(i+1))}}
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
				DisableKeepAlives: true, DialContext: dialer.DialContext}}
			for {
				select {
				case <-stop:
					return
				default:
				}
				begun := time.Now().UnixNano()
				resp, err := client.Get("http://" + d.addr + imds.PathSecurityCredentials + "/demo")
				if err != nil {
					switch {
					case isRefused(err):
						// The listener is closed: never reached.
					case sigAt.Load() != 0 && isDropped(err):
						dropped.Add(1)
					default:
						lost.Add(1)
						firstLost.CompareAndSwap(nil, err.Error())
					}
					continue
				}
				body, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				reached.Add(1)
				if resp.StatusCode != http.StatusOK || rerr != nil || !strings.Contains(string(body), `"Code": "Success"`) {
					lost.Add(1)
					firstLost.CompareAndSwap(nil, fmt.Sprintf("%s %v %.80q", resp.Status, rerr, body))
					continue
				}
				if at := sigAt.Load(); at != 0 && begun < at {
					across.Add(1)
				}
			}
		}()
	}
	faultWait(t, "load", func() bool { return reached.Load() > 2000 })
	sigAt.Store(time.Now().UnixNano())
	if err := d.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code := d.wait(t)
	close(stop)
	wg.Wait()

	t.Logf("SIGTERM under load: %d requests answered, %d of them begun before the signal and answered after it, %d lost, %d dropped before their header was read, exit %d",
		reached.Load(), across.Load(), lost.Load(), dropped.Load(), code)
	if n := lost.Load(); n != 0 {
		t.Fatalf("%d of %d requests that reached the daemon failed during shutdown; first: %v", n, reached.Load(), firstLost.Load())
	}
	if across.Load() == 0 {
		t.Fatal("no request was under way across the SIGTERM; the test proved nothing")
	}
	if code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0\n%s", code, d.Out.String())
	}
}

// TestFaults_SIGKILLRestart: after SIGKILL a new daemon binds the same
// port at once and serves metadata before its first STS call returns
// (serving never waits on STS; the time to serve is reported, not
// asserted), and has credentials after exactly one STS call.
func TestFaults_SIGKILLRestart(t *testing.T) {
	sts := newFaultSTS(t, time.Now)
	d := startFaultProcess(t, sts.srv.URL, "")
	d.waitCredentials(t)
	if err := d.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	d.wait(t)

	sts.setHang(true) // the restarted daemon's first STS call hangs
	callsBefore := sts.calls.Load()
	start := time.Now()
	d2 := startFaultProcess(t, sts.srv.URL, d.port)
	serving := d2.waitServing(t)
	faultWait(t, "the first STS call", func() bool { return sts.hanging.Load() == 1 })
	// Serving while STS has not answered: metadata 200, credentials an
	// error document at once (no waiting).
	doc := d2.credentialDoc(t)
	if doc.Code == "Success" {
		t.Fatalf("credentials served before STS answered: %+v", doc.Code)
	}
	sts.setHang(false)
	d2.waitCredentials(t)
	if n := sts.calls.Load() - callsBefore; n != 1 {
		t.Fatalf("STS calls to credentials after restart = %d, want 1", n)
	}
	t.Logf("SIGKILL and restart: serving %s after start, credentials after 1 STS call", serving.Sub(start).Round(time.Millisecond))
}
