package metrics

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// TestHealth: /healthz is 200 while the daemon serves; /readyz follows
// Options.Ready, saying what is missing while it is not ready.
func TestHealth(t *testing.T) {
	var missing atomic.Pointer[error]
	notSynced := errors.New("pod informer not synced")
	missing.Store(&notSynced)
	m := New(Options{Ready: func() error { return *missing.Load() }})
	addr := startMetrics(t, m)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get(PathHealth); code != http.StatusOK {
		t.Errorf("%s: %d, want 200", PathHealth, code)
	}
	if code, body := get(PathReady); code != http.StatusServiceUnavailable || !strings.Contains(body, "informer not synced") {
		t.Errorf("%s while not ready: %d %q, want 503 naming what is missing", PathReady, code, body)
	}
	var none error
	missing.Store(&none)
	if code, _ := get(PathReady); code != http.StatusOK {
		t.Errorf("%s when ready: %d, want 200", PathReady, code)
	}
}
