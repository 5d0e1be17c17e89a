//go:build linux || darwin

package metrics

import (
	"bufio"
	"context"
	"fmt"
	"github.com/imdsd/imdsd/internal/testutil"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMetrics_SurvivesEMFILE: out of file descriptors, the metrics
// listener keeps accepting once some are free (issue 15 item 4). Its
// process may hold two connections and is sent eight at once.
func TestMetrics_SurvivesEMFILE(t *testing.T) {
	stdout, stderr := testutil.StartChild(t, "TestHelperLowFDs", "METRICS_LOWFD=1")
	var addr string
	waitFor(t, "the server's address", func() bool {
		line, ok := strings.CutPrefix(stdout.String(), "listening ")
		addr, _, _ = strings.Cut(line, "\n")
		return ok && strings.Contains(line, "\n")
	})
	conns := make([]net.Conn, 8)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		defer c.Close()
		conns[i] = c
	}
	waitFor(t, "an accept to fail with EMFILE", func() bool {
		return strings.Contains(stderr.String()+stdout.String(), "too many open files")
	})
	get := func(c net.Conn) error {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET /metrics HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", addr)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("got %d, want 200", resp.StatusCode)
		}
		return nil
	}
	for i, c := range conns {
		if err := get(c); err != nil {
			t.Fatalf("connection %d of %d: %v\nserver stdout:\n%s\nserver stderr:\n%s", i+1, len(conns), err, stdout, stderr)
		}
		c.Close()
	}
}

// TestHelperLowFDs is TestMetrics_SurvivesEMFILE's server: RLIMIT_NOFILE
// two above the descriptors it holds, until its stdin closes.
func TestHelperLowFDs(t *testing.T) {
	if os.Getenv("METRICS_LOWFD") == "" {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := New(Options{Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	testutil.LimitFDs(t, 2)
	fmt.Printf("listening %s\n", ln.Addr())
	if err := m.Run(ctx, ln); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// waitFor is testutil.WaitFor with this package's bound, which only keeps
// a broken build from hanging the run; it asserts no speed.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	testutil.WaitFor(tb, 10*time.Second, cond, what)
}
