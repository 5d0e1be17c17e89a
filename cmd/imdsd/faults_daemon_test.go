//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/imdsd/imdsd/daemon"
	"github.com/imdsd/imdsd/imds"
	"github.com/imdsd/imdsd/roles"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

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
			// Only before the first set arrives: the load's own
			// pacing while it polls, not a wait the test asserts on.
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
