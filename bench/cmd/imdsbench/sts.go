package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/imdsd/imdsd/daemon"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/imdsd/imdsd/imds"
	"github.com/imdsd/imdsd/roles"
)

// skewClock is real time moved forward by an offset the run advances, so
// hours of refreshes pass in seconds while STS (moto) is called for real.
// After polls: the refresher re-reads Now at every wake-up, so waking
// early is harmless.
type skewClock struct{ offset atomic.Int64 }

func (c *skewClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *skewClock) After(d time.Duration) <-chan time.Time {
	return time.After(min(d, 5*time.Millisecond))
}

func (c *skewClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// runSTS wires roles and imds the way cmd/imdsd does (one role, default
// refresh settings), with STS at -sts, and has -clients clients fetch the
// credential document over HTTP without pause while the clock runs through
// -hours of refreshes. It counts STS calls at the fetcher and, with
// -moto-log, in moto's access log.
func runSTS(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sts", flag.ContinueOnError)
	stsURL := fs.String("sts", "", "STS endpoint `url` (moto)")
	motoLog := fs.String("moto-log", "", "moto's access log `file`, to count its POSTs")
	clients := fs.Int("clients", 1000, "concurrent clients")
	hours := fs.Int("hours", 2, "simulated hours")
	step := fs.Duration("step", time.Minute, "simulated time per tick")
	tick := fs.Duration("tick", 40*time.Millisecond, "real time per tick")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *stsURL == "" {
		return errors.New("-sts is required")
	}
	clock := &skewClock{}
	resolved, err := roles.Resolve(ctx, roles.Spec{Def: roles.Def{
		RoleARN: "arn:aws:iam::123456789012:role/demo", STSEndpoint: *stsURL, Region: "us-east-1",
	}})
	if err != nil {
		return err
	}
	var fetches atomic.Int64
	var at []time.Duration // simulated times of the fetches
	var mu sync.Mutex
	fetcher := roles.FetcherFunc(func(ctx context.Context) (aws.Credentials, error) {
		fetches.Add(1)
		offset := time.Duration(clock.offset.Load())
		mu.Lock()
		at = append(at, offset)
		mu.Unlock()
		c, err := resolved.Fetcher.Fetch(ctx)
		c.Expires = c.Expires.Add(offset) // STS's expiry, in simulated time
		return c, err
	})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ref, err := roles.NewRefresher(roles.RefresherOptions{Name: resolved.Name, Fetcher: fetcher, Clock: clock, Logger: log})
	if err != nil {
		return err
	}
	srv, err := imds.New(imds.Options{Source: sourceOf(resolved.Name, ref), Region: "us-east-1", Logger: log, Now: clock.Now})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	motoBefore := countPOSTs(*motoLog)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { _ = ref.Run(ctx) })
	wg.Go(func() { _ = srv.Run(ctx, ln) })

	base := "http://" + ln.Addr().String()
	if err := waitFirst(ctx, base); err != nil {
		return err
	}
	st := &clientStats{keys: map[string]bool{}}
	cctx, stopClients := context.WithCancel(ctx)
	var cw sync.WaitGroup
	tr := &http.Transport{MaxIdleConnsPerHost: *clients, MaxConnsPerHost: *clients}
	for range *clients {
		cw.Go(func() {
			st.client(cctx, &http.Client{Transport: tr}, base+imds.PathSecurityCredentials+"/"+resolved.Name, base)
		})
	}
	ticks := int(time.Duration(*hours) * time.Hour / *step)
	for range ticks {
		time.Sleep(*tick)
		clock.advance(*step)
	}
	time.Sleep(200 * time.Millisecond)
	stopClients()
	cw.Wait()
	cancel()
	wg.Wait()
	tr.CloseIdleConnections()

	calls := fetches.Load()
	motoCalls := countPOSTs(*motoLog) - motoBefore
	row := func(metric string, v float64) { writeRow(stdout, Row{"sts", "imdsd", *clients, "all", metric, v}) }
	row("clients", float64(*clients))
	row("simulated_hours", float64(*hours))
	row("requests", float64(st.requests.Load()))
	row("failed_requests", float64(st.failed.Load()))
	row("sts_calls", float64(calls))
	if *motoLog != "" {
		row("moto_posts", float64(motoCalls))
	}
	row("credential_sets_served", float64(len(st.keys)))
	row("refreshes", float64(calls-1))
	row("sts_calls_per_hour", float64(calls-1)/float64(*hours))
	// Two calls for one refresh would show as a gap of about nothing.
	gap := time.Duration(0)
	for i := 1; i < len(at); i++ {
		if d := at[i] - at[i-1]; gap == 0 || d < gap {
			gap = d
		}
	}
	row("min_minutes_between_sts_calls", gap.Minutes())
	fmt.Fprintf(os.Stderr, "sts: fetches at simulated %v\n", at)
	return nil
}

// sourceOf serves a Refresher as the daemon does (daemon.Serve).
func sourceOf(name string, r *roles.Refresher) imds.Source {
	return imds.SourceFunc(func(context.Context, imds.Caller) (imds.Role, error) {
		return daemon.Serve(name, "", r), nil
	})
}

// clientStats is what the clients saw.
type clientStats struct {
	requests, failed atomic.Int64
	mu               sync.Mutex
	keys             map[string]bool
}

// client gets a token, then fetches the credential document until ctx
// ends, noting each distinct access key and any answer but a Success
// document.
func (s *clientStats) client(ctx context.Context, hc *http.Client, docURL, base string) {
	tok, err := getToken(ctx, hc, base)
	if err != nil {
		if ctx.Err() == nil {
			s.failed.Add(1)
		}
		return
	}
	last := ""
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, docURL, nil)
		req.Header.Set(imds.HeaderToken, tok)
		resp, err := hc.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				s.failed.Add(1)
			}
			continue
		}
		var doc struct{ Code, AccessKeyId string }
		err = json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		s.requests.Add(1)
		if err != nil || resp.StatusCode != http.StatusOK || doc.Code != "Success" {
			s.failed.Add(1)
			continue
		}
		if doc.AccessKeyId != last {
			last = doc.AccessKeyId
			s.mu.Lock()
			s.keys[last] = true
			s.mu.Unlock()
		}
	}
}

func getToken(ctx context.Context, hc *http.Client, base string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, base+imds.PathToken, nil)
	req.Header.Set(imds.HeaderTokenTTL, "21600")
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token: status %d: %v", resp.StatusCode, err)
	}
	return string(b), nil
}

// waitFirst waits until the server serves the first credentials.
func waitFirst(ctx context.Context, base string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if ok, _ := credsServed(ctx, http.DefaultClient, base); ok {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("no credentials within 30s")
}

// countPOSTs counts moto's access-log lines for STS calls (POST /), as
// internal/motoserver's STSCalls does; -1 without a log.
func countPOSTs(path string) int64 {
	if path == "" {
		return -1
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	return int64(strings.Count(string(b), `"POST / HTTP`))
}
