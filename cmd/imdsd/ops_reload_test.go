package main

import (
	"context"
	"github.com/imdsd/imdsd/internal/testutil"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/imdsd/imdsd/internal/motoserver"
)

// opsLoad runs SDK-like credential fetches in a loop and counts them.
type opsLoad struct {
	ok, failed atomic.Int64
	dials      atomic.Int64 // connections opened
	firstErr   atomic.Value
	stop       chan struct{}
	wg         sync.WaitGroup
	// session is the role session name of the last credentials served.
	mu      sync.Mutex
	lastKey string
}

func startOpsLoad(t *testing.T, base string, workers int) *opsLoad {
	t.Helper()
	l := &opsLoad{stop: make(chan struct{})}
	var dialer net.Dialer
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: workers,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			l.dials.Add(1)
			return dialer.DialContext(ctx, network, addr)
		},
	}}
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				_, doc, err := opsFetchCredentials(client, base)
				if err != nil {
					l.failed.Add(1)
					l.firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				l.ok.Add(1)
				l.mu.Lock()
				l.lastKey = doc.AccessKeyID
				l.mu.Unlock()
			}
		}()
	}
	t.Cleanup(l.end)
	return l
}

func (l *opsLoad) end() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// waitMore waits until n more fetches succeeded.
func (l *opsLoad) waitMore(t *testing.T, n int64) {
	t.Helper()
	target := l.ok.Load() + n
	if !testutil.Until(30*time.Second, 10*time.Millisecond, func() bool { return l.ok.Load() >= target }) {
		t.Fatalf("load stalled: %d ok, %d failed (%v)", l.ok.Load(), l.failed.Load(), l.firstErr.Load())
	}
}

// servedSession returns the role session name of the credentials the
// daemon serves now, as STS sees them.
func servedSession(t *testing.T, d *opsDaemon, stsURL string) string {
	t.Helper()
	_, doc, err := opsFetchCredentials(http.DefaultClient, d.url())
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	arn := opsCallerARN(t, stsURL, doc.AccessKeyID, doc.SecretAccessKey, doc.Token)
	return arn[strings.LastIndexByte(arn, '/')+1:]
}

// TestOps_ReloadUnderLoad swaps the role's definition while clients fetch
// credentials without pause: an invalid config is refused and the old one
// keeps serving; `imdsd reload` and SIGHUP each replace the role's session
// (a new refresher, new STS credentials); not one request fails.
func TestOps_ReloadUnderLoad(t *testing.T) {
	moto := motoserver.Start(t)
	bin := buildImdsd(t)
	d := startOpsDaemon(t, bin, moto.URL, "role_arn: "+opsRoleARN, "session_name: first")
	d.waitRole(t, "demo", "fresh")
	load := startOpsLoad(t, d.url(), 4)
	load.waitMore(t, 200)
	dials := load.dials.Load()

	t.Run("invalid config refused", func(t *testing.T) {
		d.writeConfig(t, moto.URL, "role_arn: arn:aws:iam::123456789012:user/not-a-role", "session_name: first")
		code, out, errOut := d.ctl("reload")
		if code != exitError || out != "" || !strings.Contains(errOut, "role_arn") || !strings.Contains(errOut, "not an IAM role ARN") {
			t.Fatalf("reload of a bad config: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if st := d.status(t); !strings.Contains(st.ReloadError, "role_arn") || st.Roles[0].State != "fresh" {
			t.Errorf("after the refused reload: reload error %q, state %q", st.ReloadError, st.Roles[0].State)
		}
		if !d.logged("reload refused; the previous config keeps running") {
			t.Errorf("the daemon did not log the refusal:\n%s", d.Out)
		}
		load.waitMore(t, 100)
		if got := servedSession(t, d, moto.URL); got != "first" {
			t.Errorf("served session %q, want first", got)
		}
	})
	t.Run("imdsd reload", func(t *testing.T) {
		d.writeConfig(t, moto.URL, "role_arn: "+opsRoleARN, "session_name: second")
		code, out, errOut := d.ctl("reload")
		if code != 0 || !strings.Contains(out, "changed demo") {
			t.Fatalf("reload: exit %d, %q %q", code, out, errOut)
		}
		// The swap waits for the new role's first credentials: they are
		// served as soon as reload returns.
		if got := servedSession(t, d, moto.URL); got != "second" {
			t.Errorf("served session %q right after reload, want second", got)
		}
		load.waitMore(t, 100)
	})
	t.Run("SIGHUP", func(t *testing.T) {
		d.writeConfig(t, moto.URL, "role_arn: "+opsRoleARN, "session_name: third")
		before := d.status(t).Reloads
		if err := d.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		if !testutil.Until(30*time.Second, 20*time.Millisecond, func() bool { return d.status(t).Reloads != before }) {
			t.Fatalf("no reload after SIGHUP:\n%s", d.Out)
		}
		if got := servedSession(t, d, moto.URL); got != "third" {
			t.Errorf("served session %q after SIGHUP, want third", got)
		}
		load.waitMore(t, 100)
	})
	load.end()
	if n := load.failed.Load(); n != 0 {
		t.Errorf("%d of %d requests failed during reloads; first: %v", n, n+load.ok.Load(), load.firstErr.Load())
	}
	// Keep-alive connections opened before the reloads served every
	// request after them: the server never dropped one.
	if n := load.dials.Load(); n != dials {
		t.Errorf("clients opened %d connections during the reloads, want 0 (connections dropped?)", n-dials)
	}
	t.Logf("%d credential fetches over %d connections, none failed, across three reloads", load.ok.Load(), dials)

	t.Run("role renamed", func(t *testing.T) {
		d.writeConfig(t, moto.URL, "role_arn: arn:aws:iam::123456789012:role/other", "session_name: fourth")
		code, out, errOut := d.ctl("reload")
		if code != 0 || !strings.Contains(out, "added other; removed demo") {
			t.Fatalf("reload: exit %d, %q %q", code, out, errOut)
		}
		st := d.status(t)
		if len(st.Roles) != 1 || st.Roles[0].Name != "other" || st.DefaultRole != "other" {
			t.Errorf("roles after rename: %+v default %q", st.Roles, st.DefaultRole)
		}
		if name, _, err := opsFetchCredentials(http.DefaultClient, d.url()); err != nil || name != "other" {
			t.Errorf("served role %q, %v; want other", name, err)
		}
	})
}
