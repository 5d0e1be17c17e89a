package imds

import (
	"context"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"
)

// TestServer_RunGracefulShutdown: when Run's context ends, the listener
// closes, the request in flight still completes, and Run returns nil.
func TestServer_RunGracefulShutdown(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	src := fakeSource{fn: func(context.Context, Caller) (Role, error) {
		close(entered)
		<-release
		return Role{Name: "slow"}, nil
	}}
	s, _ := newTestServer(t, Options{Source: src, Now: time.Now})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln) }()

	type result struct {
		status int
		body   string
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + PathSecurityCredentials + "/")
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		res <- result{status: resp.StatusCode, body: string(b)}
	}()
	<-entered
	cancel()
	// The listener closes promptly while the request is still in flight.
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			break
		}
		c.Close()
		if i > 1000 {
			t.Fatal("listener still accepting after cancel")
		}
		runtime.Gosched()
	}
	close(release)
	r := <-res
	if r.err != nil || r.status != 200 || r.body != "slow" {
		t.Fatalf("in-flight request: %+v, want 200 %q", r, "slow")
	}
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v, want nil", err)
	}
}
