package kube

import (
	"encoding/base64"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imdsd/imdsd/internal/k8stest"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func TestMain(m *testing.M) { os.Exit(k8stest.Main(m)) }

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// clock is a settable clock for the grace and the token cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// waitFor polls cond until it holds, failing the test after 30 s: for
// what the API server does asynchronously (an informer's event).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 30 s waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listCounter counts the API requests that list pods (not watches).
type listCounter struct{ n atomic.Int64 }

func (c *listCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/pods") && r.URL.Query().Get("watch") != "true" {
			c.n.Add(1)
		}
		return rt.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// client is a client of cfg that counts its pod lists in lc (when not nil).
func client(t *testing.T, cfg *rest.Config, lc *listCounter) kubernetes.Interface {
	t.Helper()
	cfg = rest.CopyConfig(cfg)
	if lc != nil {
		cfg.WrapTransport = lc.wrap
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return cs
}

// startWatcher builds and runs a Watcher until the test ends.
func startWatcher(t *testing.T, o WatcherOptions) *Watcher {
	t.Helper()
	w, err := NewWatcher(o)
	if err != nil {
		t.Fatalf("NewWatcher: %v", err)
	}
	runWatcher(t, w)
	return w
}

// nodeName is unique per test, so no test sees another's pods.
func nodeName(t *testing.T) string {
	return "node-" + strings.NewReplacer("/", "-", "_", "-").Replace(strings.ToLower(t.Name()))
}
