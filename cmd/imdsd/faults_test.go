//go:build linux

package main

// Daemon-level fault tests: the request path while STS hangs (over real
// HTTP), moto killed and restarted under load, SIGTERM under load with a
// request in flight, and SIGKILL followed by a restart. Helpers are in
// faults_helpers_test.go.

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/imdsd/imdsd/daemon"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/imdsd/imdsd/imds"
	"github.com/imdsd/imdsd/internal/motoserver"
	"github.com/imdsd/imdsd/internal/testproc"
	"github.com/imdsd/imdsd/roles"
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

// --- in-process daemon ---

// faultDaemon is a refresher on a jump clock behind an imds.Server on a
// real loopback socket: the daemon's parts without its config.
type faultDaemon struct {
	refresher *roles.Refresher
	url       string
}

func startFaultDaemon(t *testing.T, clk roles.Clock, fetcher roles.Fetcher, edit func(*roles.RefresherOptions)) *faultDaemon {
	t.Helper()
	log := faultLogger(t)
	ro := roles.RefresherOptions{Name: "demo", Fetcher: fetcher, Clock: clk, Logger: log,
		Rand: func() float64 { return 0.5 }, FetchTimeout: 30 * time.Second}
	if edit != nil {
		edit(&ro)
	}
	r, err := roles.NewRefresher(ro)
	if err != nil {
		t.Fatal(err)
	}
	src := imds.SourceFunc(func(context.Context, imds.Caller) (imds.Role, error) {
		return daemon.Serve("demo", "", r), nil
	})
	s, err := imds.New(imds.Options{Source: src, Region: "us-east-1", Logger: log, Now: clk.Now,
		AllowedHosts: imds.DefaultAllowedHosts})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	srv := httptest.NewServer(s)
	t.Cleanup(func() { srv.Close(); cancel(); <-done })
	return &faultDaemon{refresher: r, url: srv.URL}
}

// credentialGetter returns a function doing one token-authenticated
// credential GET that must succeed; it returns the access key ID.
func (d *faultDaemon) credentialGetter(t *testing.T) func() string {
	client := &http.Client{Timeout: 10 * time.Second}
	tok := ""
	return func() string {
		t.Helper()
		if tok == "" {
			req, _ := http.NewRequest(http.MethodPut, d.url+imds.PathToken, nil)
			req.Header.Set(imds.HeaderTokenTTL, "21600")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("token: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			tok = string(b)
		}
		var doc credDoc
		for {
			req, _ := http.NewRequest(http.MethodGet, d.url+imds.PathSecurityCredentials+"/demo", nil)
			req.Header.Set(imds.HeaderToken, tok)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("credential GET: %v", err)
			}
			err = json.NewDecoder(resp.Body).Decode(&doc)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("credential GET: status %d, %v", resp.StatusCode, err)
			}
			if doc.Code == "Success" {
				return doc.AccessKeyID
			}
			// Only before the first set arrives.
			time.Sleep(time.Millisecond)
		}
	}
}

func timeGets(t *testing.T, get func() string, n int) []time.Duration {
	t.Helper()
	out := make([]time.Duration, n)
	for i := range out {
		start := time.Now()
		get()
		out[i] = time.Since(start)
	}
	return out
}

func faultMedian(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// credentialLoad is n clients fetching a token and credentials in a loop,
// checking every document against the clock.
type credentialLoad struct {
	requests, errors atomic.Int64
	mu               sync.Mutex
	keys             map[string]bool
	first            string
	stopc            chan struct{}
	wg               sync.WaitGroup
}

func startCredentialLoad(t *testing.T, d *faultDaemon, clk *jumpClock, n int) *credentialLoad {
	l := &credentialLoad{keys: map[string]bool{}, stopc: make(chan struct{})}
	fail := func(msg string) {
		l.errors.Add(1)
		l.mu.Lock()
		if l.first == "" {
			l.first = msg
		}
		l.mu.Unlock()
	}
	for range n {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			for {
				select {
				case <-l.stopc:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodPut, d.url+imds.PathToken, nil)
				req.Header.Set(imds.HeaderTokenTTL, "60")
				resp, err := client.Do(req)
				if err != nil {
					fail(err.Error())
					continue
				}
				tok, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				req, _ = http.NewRequest(http.MethodGet, d.url+imds.PathSecurityCredentials+"/demo", nil)
				req.Header.Set(imds.HeaderToken, string(tok))
				resp, err = client.Do(req)
				if err != nil {
					fail(err.Error())
					continue
				}
				var doc credDoc
				err = json.NewDecoder(resp.Body).Decode(&doc)
				resp.Body.Close()
				l.requests.Add(2)
				exp, perr := time.Parse(time.RFC3339, doc.Expiration)
				switch {
				case err != nil || resp.StatusCode != 200:
					fail(fmt.Sprintf("status %d %v", resp.StatusCode, err))
				case doc.Code != "Success":
					fail("error document: " + doc.Code + ": " + doc.Message)
				case perr != nil || exp.Sub(clk.Now()) <= roles.DefaultGraceRemaining:
					fail("served a set expiring at " + doc.Expiration)
				default:
					l.mu.Lock()
					l.keys[doc.AccessKeyID] = true
					l.mu.Unlock()
				}
			}
		}()
	}
	t.Cleanup(l.stop)
	return l
}

func (l *credentialLoad) waitRequests(t *testing.T, n int64) {
	t.Helper()
	faultWait(t, fmt.Sprintf("%d requests", n), func() bool { return l.requests.Load() >= n })
}

func (l *credentialLoad) stop() {
	select {
	case <-l.stopc:
	default:
		close(l.stopc)
	}
	l.wg.Wait()
}

func (l *credentialLoad) keyCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

func (l *credentialLoad) firstError() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.first
}

// credDoc is the credential document, or an error document.
type credDoc struct {
	Code        string
	Message     string
	AccessKeyID string `json:"AccessKeyId"`
	Expiration  string
}

// --- daemon processes ---

// faultProcess is an imdsd serve process.
type faultProcess struct {
	*testproc.Proc
	addr string
	port string
}

func startFaultProcess(t *testing.T, stsURL, port string, extra ...string) *faultProcess {
	t.Helper()
	bin := buildImdsd(t)
	if port == "" {
		port = strconv.Itoa(testproc.FreePort(t))
	}
	dir := t.TempDir()
	d := &faultProcess{addr: "127.0.0.1:" + port, port: port}
	cmd := exec.Command(bin, "serve", "--listen", d.addr, "--role-arn", "arn:aws:iam::123456789012:role/demo",
		"--sts-endpoint", stsURL, "--region", "us-east-1", "--log-format", "json",
		"--control-socket", filepath.Join(dir, "control.sock"), "--state-file", filepath.Join(dir, "state.json"))
	cmd.Args = append(cmd.Args, extra...)
	cmd.Env = faultEnv(dir)
	var err error
	if d.Proc, err = testproc.Start(cmd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Kill()
		if t.Failed() {
			t.Logf("imdsd output:\n%s", d.Out.String())
		}
		if strings.Contains(d.Out.String(), faultSecretMark) {
			t.Errorf("imdsd logged a secret")
		}
	})
	return d
}

func (d *faultProcess) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-d.Done():
		return d.ExitCode()
	case <-time.After(30 * time.Second):
		t.Fatal("imdsd did not exit")
		return -1
	}
}

// waitServing polls until instance-id answers 200 and returns when.
func (d *faultProcess) waitServing(t *testing.T) time.Time {
	t.Helper()
	var at time.Time
	faultWait(t, "imdsd serving", func() bool {
		resp, err := http.Get("http://" + d.addr + imds.PathInstanceID)
		if err != nil {
			return false
		}
		resp.Body.Close()
		at = time.Now()
		return resp.StatusCode == 200
	})
	return at
}

func (d *faultProcess) credentialDoc(t *testing.T) credDoc {
	t.Helper()
	resp, err := http.Get("http://" + d.addr + imds.PathSecurityCredentials + "/demo")
	if err != nil {
		t.Fatalf("credential GET: %v", err)
	}
	defer resp.Body.Close()
	var doc credDoc
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != 200 {
		t.Fatalf("credential GET: status %d, %v", resp.StatusCode, err)
	}
	return doc
}

func (d *faultProcess) waitCredentials(t *testing.T) {
	t.Helper()
	d.waitServing(t)
	faultWait(t, "credentials", func() bool { return d.credentialDoc(t).Code == "Success" })
}

func isRefused(err error) bool {
	return strings.Contains(err.Error(), "connection refused")
}

// isDropped reports an error of a connection closed before any answer.
func isDropped(err error) bool {
	s := err.Error()
	return strings.Contains(s, "connection reset") || strings.Contains(s, "EOF")
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}
