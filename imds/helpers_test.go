package imds

import (
	"context"
	"github.com/imdsd/imdsd/internal/testutil"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// newFakeClock is the one fake clock of the tests (internal/testutil),
// at its epoch.
func newFakeClock() *testutil.Clock { return testutil.NewClock(time.Time{}) }

// fakeSource is a Source built from a func field.
type fakeSource struct {
	fn func(ctx context.Context, c Caller) (Role, error)
}

var _ Source = fakeSource{}

func (f fakeSource) Credentials(ctx context.Context, c Caller) (Role, error) { return f.fn(ctx, c) }

// testCreds returns credentials that expire 50 minutes and a fraction of a
// second after now: under the hour the Go SDK's ec2rolecreds caps expiries
// at, and not on a whole second, so truncation shows.
func testCreds(now time.Time) Credentials {
	return Credentials{
		AccessKeyID:     "ASIATESTACCESSKEY123",
		SecretAccessKey: "testSecretAccessKey/abc+def",
		SessionToken:    "testSessionToken+/=",
		Expires:         now.Add(50 * time.Minute).Add(123 * time.Millisecond),
		LastUpdated:     now.Add(-time.Minute),
		AccountID:       "123456789012",
	}
}

func staticSource(role Role, err error) Source {
	return fakeSource{fn: func(context.Context, Caller) (Role, error) { return role, err }}
}

// testLogger sends logs to t.Log.
func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testLogWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testLogWriter struct{ tb testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// newTestServer returns a Server with a fake clock and the given source.
func newTestServer(tb testing.TB, opts Options) (*Server, *testutil.Clock) {
	tb.Helper()
	clk := newFakeClock()
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	if opts.Region == "" {
		opts.Region = "eu-west-1"
	}
	if opts.InstanceID == "" {
		opts.InstanceID = "i-0123456789abcdef0"
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(tb)
	}
	s, err := New(opts)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return s, clk
}

// do sends one request to h and returns the recorded response.
func do(h http.Handler, method, path string, headers ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func body(w *httptest.ResponseRecorder) string { return w.Body.String() }

// token gets a token from s.
func token(tb testing.TB, s http.Handler, ttl string) string {
	tb.Helper()
	w := do(s, http.MethodPut, PathToken, HeaderTokenTTL, ttl)
	if w.Code != http.StatusOK {
		tb.Fatalf("PUT token: status %d, want 200", w.Code)
	}
	return body(w)
}

// runServer serves s with Run on a new loopback listener and returns its
// address and stop, which ends Run and returns Run's error. The test's
// cleanup stops it too.
func runServer(tb testing.TB, s *Server) (addr string, stop func() error) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return runServerOn(tb, s, ln)
}

// dialServer connects to addr, with a 10 s deadline on the connection (a
// bound that fails a test that waits on it, not a timing assertion); the
// connection is closed when the test ends.
func dialServer(tb testing.TB, addr string) net.Conn {
	tb.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// runServerOn is runServer on a listener of the caller's.
func runServerOn(tb testing.TB, s *Server, ln net.Listener) (addr string, stop func() error) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	tb.Cleanup(func() { _ = stop() })
	return ln.Addr().String(), stop
}
