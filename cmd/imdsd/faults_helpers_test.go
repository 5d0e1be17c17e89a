//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"github.com/imdsd/imdsd/internal/testutil"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imdsd/imdsd/roles"
)

// faultSecretMark is in every secret the fake STS hands out; no log may
// contain it.
const faultSecretMark = "fault-secret-do-not-log"

// jumpClock is a roles.Clock whose wall time can jump (suspend, NTP)
// while its timers run in real time, as monotonic timers do.
type jumpClock struct{ offset atomic.Int64 }

var _ roles.Clock = (*jumpClock)(nil)

func newJumpClock() *jumpClock { return &jumpClock{} }

func (c *jumpClock) Now() time.Time                         { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *jumpClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (c *jumpClock) Jump(d time.Duration)                   { c.offset.Add(int64(d)) }

// faultSTS is a fake STS answering AssumeRole with credentials that expire
// an hour after now(), or holding requests while hang is set.
type faultSTS struct {
	now     func() time.Time
	srv     *httptest.Server
	mu      sync.Mutex
	hang    bool
	release chan struct{}
	calls   atomic.Int64
	hanging atomic.Int64
	issued  atomic.Int64
}

func newFaultSTS(t *testing.T, now func() time.Time) *faultSTS {
	t.Helper()
	f := &faultSTS{now: now, release: make(chan struct{})}
	f.srv = httptest.NewServer(f)
	t.Cleanup(func() { f.setHang(false); f.srv.Close() })
	return f
}

func (f *faultSTS) setHang(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hang && !on {
		close(f.release)
		f.release = make(chan struct{})
	}
	f.hang = on
}

func (f *faultSTS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	f.mu.Lock()
	hang, release := f.hang, f.release
	f.mu.Unlock()
	if hang {
		f.hanging.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
			f.hanging.Add(-1)
			return
		case <-time.After(30 * time.Second):
		}
		f.hanging.Add(-1)
	}
	n := f.issued.Add(1)
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/demo/s</Arn><AssumedRoleId>AROAFAKE:s</AssumedRoleId></AssumedRoleUser>
<Credentials><AccessKeyId>ASIAFAULT%011d</AccessKeyId><SecretAccessKey>%s-%d</SecretAccessKey><SessionToken>token-%d-%s</SessionToken><Expiration>%s</Expiration></Credentials>
</AssumeRoleResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></AssumeRoleResponse>`,
		n, faultSecretMark, n, n, faultSecretMark, f.now().Add(time.Hour).UTC().Format(time.RFC3339))
}

// faultEnv is a clean environment with source credentials only.
func faultEnv(home string) []string {
	return cleanEnv(func(k string) bool { return k == "HOME" },
		"HOME="+home, "AWS_ACCESS_KEY_ID=AKIAFAULTSOURCE", "AWS_SECRET_ACCESS_KEY=source-"+faultSecretMark)
}

// faultFetcher resolves the daemon's production fetch path (roles.Resolve:
// stscreds on an sts.Client, two attempts) against url.
func faultFetcher(t *testing.T, url string) (roles.Fetcher, error) {
	t.Helper()
	for _, kv := range faultEnv(t.TempDir()) {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, v)
		}
	}
	r, err := roles.Resolve(context.Background(), roles.Spec{Def: roles.Def{
		RoleARN: "arn:aws:iam::123456789012:role/demo", Region: "us-east-1", STSEndpoint: url,
	}})
	return r.Fetcher, err
}

func faultLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(faultLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type faultLogWriter struct{ t *testing.T }

func (w faultLogWriter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(faultSecretMark)) {
		w.t.Errorf("log line carries a secret")
	}
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// faultWait polls cond in real time, bounded; it asserts no duration.
func faultWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, 60*time.Second, cond, what)
}
