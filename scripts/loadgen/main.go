// Command loadgen is the load generator of scripts/load.sh: it drives a
// running imdsd over loopback and checks what the issue asks of it under
// load: zero errors, RSS growth under a bound, goroutines back to their
// baseline afterwards.
//
// Phases:
//  1. mixed: -clients concurrent clients for -duration, each from its own
//     loopback address (distinct clients, as containers are), each looping
//     over a token PUT, metadata GETs, the role listing and the credential
//     document, checking every answer;
//  2. flood: -flood token PUTs spread over -clients workers.
//
// RSS is read from /proc/PID/status (VmRSS); goroutines from the daemon's
// metrics endpoint (go_goroutines), since /proc counts threads only. It
// sends traffic to the given loopback URLs only, and stops by itself.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

type options struct {
	url, metrics  string
	pid           int
	clients       int
	duration      time.Duration
	flood         int
	maxRSSGrowth  int64 // bytes
	settle        time.Duration
	sourcePrefix  string
	hardTimeout   time.Duration
	goroutineWait time.Duration
}

func run(args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.StringVar(&o.url, "url", "", "imdsd base `URL` (loopback), e.g. http://127.0.0.1:9254")
	fs.StringVar(&o.metrics, "metrics", "", "imdsd metrics `URL` (loopback), for go_goroutines")
	fs.IntVar(&o.pid, "pid", 0, "imdsd's process ID, for /proc/PID/status")
	fs.IntVar(&o.clients, "clients", 256, "concurrent clients")
	fs.DurationVar(&o.duration, "duration", 60*time.Second, "length of the mixed phase")
	fs.IntVar(&o.flood, "flood", 1_000_000, "token requests of the flood phase")
	var maxMB int64
	idle := fs.Int("idle", 0, "instead of the load: open `N` idle keep-alive connections over -clients addresses and report RSS (idle.go)")
	fs.Int64Var(&maxMB, "max-rss-growth-mb", 10, "allowed RSS growth in MB")
	fs.DurationVar(&o.settle, "settle", 25*time.Second, "idle time before the final RSS reading (imdsd trims its memory after 10 to 20 s idle)")
	fs.StringVar(&o.sourcePrefix, "source-prefix", "127.0.", "clients connect from SOURCE-PREFIX.x.y: one loopback address each")
	fs.DurationVar(&o.hardTimeout, "timeout", 15*time.Minute, "give up after this long")
	fs.DurationVar(&o.goroutineWait, "goroutine-wait", 30*time.Second, "how long goroutines may take to return to baseline")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.maxRSSGrowth = maxMB << 20
	if err := checkLoopback(o.url); err != nil {
		return err
	}
	if o.metrics != "" {
		if err := checkLoopback(o.metrics); err != nil {
			return err
		}
	}
	if o.pid <= 0 || o.clients < 1 || o.clients > 60000 {
		return errors.New("need -pid and 1..60000 -clients")
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.hardTimeout)
	defer cancel()
	if *idle > 0 {
		return runIdle(ctx, o, *idle, out)
	}
	return load(ctx, o, out)
}

// checkLoopback refuses any URL whose host is not a loopback IP literal.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s: only loopback IP addresses are allowed", raw)
	}
	return nil
}

// stats counts what a phase did.
type stats struct {
	requests atomic.Int64
	errors   atomic.Int64
	mu       sync.Mutex
	first    []string
}

func (s *stats) fail(format string, a ...any) {
	s.errors.Add(1)
	s.mu.Lock()
	if len(s.first) < 5 {
		s.first = append(s.first, fmt.Sprintf(format, a...))
	}
	s.mu.Unlock()
}

func load(ctx context.Context, o options, out io.Writer) error {
	role, err := warmUp(ctx, o)
	if err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	rss0, err := rss(o.pid)
	if err != nil {
		return err
	}
	g0, err := goroutines(ctx, o.metrics)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "baseline: RSS %.1f MB, %d goroutines\n", mb(rss0), g0)

	var mixed, flood stats
	start := time.Now()
	peakRSS := rss0
	stopPeak := watchPeak(o.pid, &peakRSS)
	runMixed(ctx, o, role, &mixed)
	mixedTime := time.Since(start)
	start = time.Now()
	runFlood(ctx, o, &flood)
	floodTime := time.Since(start)
	stopPeak()
	if ctx.Err() != nil {
		return fmt.Errorf("gave up after %s", o.hardTimeout)
	}

	// Goroutines back to the baseline once the clients are gone.
	var g1 int
	deadline := time.Now().Add(o.goroutineWait)
	for {
		g1, err = goroutines(ctx, o.metrics)
		if err != nil {
			return err
		}
		if g1 <= g0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(o.settle)
	rss1, err := rss(o.pid)
	if err != nil {
		return err
	}

	fmt.Fprintf(out, "mixed: %d clients, %s, %d requests (%.0f/s), %d errors\n",
		o.clients, mixedTime.Round(time.Second), mixed.requests.Load(), float64(mixed.requests.Load())/mixedTime.Seconds(), mixed.errors.Load())
	fmt.Fprintf(out, "flood: %d token requests in %s (%.0f/s), %d errors\n",
		flood.requests.Load(), floodTime.Round(time.Second), float64(flood.requests.Load())/floodTime.Seconds(), flood.errors.Load())
	fmt.Fprintf(out, "RSS: baseline %.1f MB, peak %.1f MB, after %.1f MB (growth %+.1f MB, limit %d MB)\n",
		mb(rss0), mb(peakRSS), mb(rss1), mb(rss1-rss0), o.maxRSSGrowth>>20)
	fmt.Fprintf(out, "goroutines: baseline %d, after %d\n", g0, g1)

	var problems []string
	for name, s := range map[string]*stats{"mixed": &mixed, "flood": &flood} {
		if n := s.errors.Load(); n > 0 {
			problems = append(problems, fmt.Sprintf("%s: %d errors, first: %s", name, n, strings.Join(s.first, " | ")))
		}
	}
	if flood.requests.Load() != int64(o.flood) {
		problems = append(problems, fmt.Sprintf("flood: %d token requests answered, want %d", flood.requests.Load(), o.flood))
	}
	if rss1-rss0 >= o.maxRSSGrowth {
		problems = append(problems, fmt.Sprintf("RSS grew %.1f MB, limit %d MB", mb(rss1-rss0), o.maxRSSGrowth>>20))
	}
	if g1 > g0 {
		problems = append(problems, fmt.Sprintf("goroutines %d after the load, baseline %d", g1, g0))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	fmt.Fprintln(out, "load: passed")
	return nil
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// client returns an HTTP client whose connections come from the loopback
// address number i, so each simulated client is a distinct client.
func client(o options, i int) *http.Client {
	src := net.ParseIP(fmt.Sprintf("%s%d.%d", o.sourcePrefix, 1+i/250, 1+i%250))
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext:         d.DialContext,
			MaxIdleConnsPerHost: 1,
			Proxy:               nil,
		},
	}
}

// do sends one request and returns its status and body.
func do(ctx context.Context, c *http.Client, method, u string, h ...string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return 0, nil, err
	}
	for i := 0; i+1 < len(h); i += 2 {
		req.Header.Set(h[i], h[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

const (
	hToken = "X-aws-ec2-metadata-token"
	hTTL   = "X-aws-ec2-metadata-token-ttl-seconds"
)

// warmUp checks the daemon serves credentials and returns the role name.
func warmUp(ctx context.Context, o options) (string, error) {
	c := client(o, 0)
	defer c.CloseIdleConnections()
	for i := 0; ; i++ {
		_, tok, err := do(ctx, c, http.MethodPut, o.url+"/latest/api/token", hTTL, "60")
		if err == nil {
			code, role, err := do(ctx, c, http.MethodGet, o.url+"/latest/meta-data/iam/security-credentials/", hToken, string(tok))
			if err == nil && code == 200 && len(role) > 0 {
				code, doc, err := do(ctx, c, http.MethodGet, o.url+"/latest/meta-data/iam/security-credentials/"+string(role), hToken, string(tok))
				if err == nil && code == 200 && strings.Contains(string(doc), `"Success"`) {
					return string(role), nil
				}
			}
		}
		if i == 300 {
			return "", errors.New("imdsd serves no credentials")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runMixed runs the mixed phase.
func runMixed(ctx context.Context, o options, role string, s *stats) {
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var wg sync.WaitGroup
	for i := range o.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := client(o, i)
			defer c.CloseIdleConnections()
			for n := 0; ctx.Err() == nil; n++ {
				mixedRound(ctx, o, c, role, n, s)
			}
		}()
	}
	wg.Wait()
}

// mixedRound is what an SDK does for credentials, plus metadata reads.
func mixedRound(ctx context.Context, o options, c *http.Client, role string, n int, s *stats) {
	check := func(what string, code int, body []byte, err error, want string) bool {
		if ctx.Err() != nil {
			return false // the phase ended mid-request: not an error
		}
		s.requests.Add(1)
		if err != nil || code != 200 || !strings.Contains(string(body), want) {
			s.fail("%s: status %d err %v body %.60q", what, code, err, body)
			return false
		}
		return true
	}
	code, tok, err := do(ctx, c, http.MethodPut, o.url+"/latest/api/token", hTTL, "21600")
	if !check("token", code, tok, err, "") {
		return
	}
	t := string(tok)
	paths := []struct {
		path, want string
		doc        bool // a credential document: Code must be Success
	}{
		{"/latest/meta-data/iam/security-credentials/", role, false},
		{"/latest/meta-data/iam/security-credentials/" + role, "", true},
		{"/latest/meta-data/instance-id", "i-", false},
		{"/latest/meta-data/placement/region", "-", false},
		{"/latest/dynamic/instance-identity/document", `"region"`, false},
	}
	for _, p := range paths {
		code, body, err := do(ctx, c, http.MethodGet, o.url+p.path, hToken, t)
		if p.doc && err == nil && code == 200 {
			var doc struct{ Code string }
			if json.Unmarshal(body, &doc) != nil || doc.Code != "Success" {
				err = fmt.Errorf("credential document with Code %q", doc.Code)
			}
		}
		if !check(p.path, code, body, err, p.want) {
			return
		}
	}
}

// runFlood sends o.flood token requests over o.clients workers.
func runFlood(ctx context.Context, o options, s *stats) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for i := range o.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := client(o, i)
			defer c.CloseIdleConnections()
			for next.Add(1) <= int64(o.flood) && ctx.Err() == nil {
				code, tok, err := do(ctx, c, http.MethodPut, o.url+"/latest/api/token", hTTL, "60")
				if ctx.Err() != nil {
					return
				}
				s.requests.Add(1)
				if err != nil || code != 200 || len(tok) != 43 {
					s.fail("token: status %d err %v", code, err)
				}
			}
		}()
	}
	wg.Wait()
}

// rss reads VmRSS of pid in bytes.
func rss(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("read RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// watchPeak records the highest RSS until the returned stop is called.
func watchPeak(pid int, peak *int64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if r, err := rss(pid); err == nil && r > *peak {
				*peak = r
			}
			select {
			case <-done:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// goroutines scrapes go_goroutines from the daemon's metrics.
func goroutines(ctx context.Context, metricsURL string) (int, error) {
	if metricsURL == "" {
		return 0, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return 0, err
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("scrape metrics: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(f), err
		}
	}
	return 0, errors.New("no go_goroutines in the metrics")
}
