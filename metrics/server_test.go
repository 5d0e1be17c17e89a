package metrics

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startMetrics serves m on a loopback port until the test ends and returns
// its address.
func startMetrics(tb testing.TB, m *Metrics) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, ln) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Run: %v", err)
		}
	})
	return ln.Addr().String()
}

// rawGet sends one GET /metrics with exactly the Host header given (and
// extra header lines) and returns the status code.
func rawGet(tb testing.TB, addr, host string, extra ...string) int {
	tb.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	req := "GET /metrics HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n"
	for _, h := range extra {
		req += h + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		tb.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		tb.Fatalf("Host %q: read response: %v", host, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestMetrics_HostCheck: DNS rebinding (issue 15 item 4). A page on
// evil.example.com that re-resolves to 127.0.0.1 must not read /metrics.
func TestMetrics_HostCheck(t *testing.T) {
	addr := startMetrics(t, New(Options{Logger: testLogger(t)}))
	_, port, _ := net.SplitHostPort(addr)
	tests := []struct {
		host string
		want int
	}{
		{addr, http.StatusOK},
		{"127.0.0.1", http.StatusOK},
		{"localhost:" + port, http.StatusOK},
		{"LOCALHOST", http.StatusOK},
		{"[::1]:" + port, http.StatusOK},
		{"[::1]", http.StatusOK},
		{"10.1.2.3:" + port, http.StatusOK}, // a scraper elsewhere, by address
		{"evil.example.com", http.StatusForbidden},
		{"evil.example.com:" + port, http.StatusForbidden},
		{"localhost.evil.example.com:" + port, http.StatusForbidden},
		{"127.0.0.1.nip.io:" + port, http.StatusForbidden},
		{"0x7f000001:" + port, http.StatusForbidden},
		{"2130706433:" + port, http.StatusForbidden},
		{"127.0.0.1:0", http.StatusForbidden},
		{"127.0.0.1:99999", http.StatusForbidden},
		{"", http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			if got := rawGet(t, addr, tc.host); got != tc.want {
				t.Errorf("Host %q: got %d, want %d", tc.host, got, tc.want)
			}
		})
	}
}

// TestMetrics_ServerLimits: the listener has a careful http.Server's
// limits. TestMetrics_ClosesIdleConnections and TestMetrics_HeaderTimeout
// show, with shorter ones, that the server enforces them.
func TestMetrics_ServerLimits(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv := New(Options{}).server(context.Background(), ln)
	if srv.ReadHeaderTimeout != 5*time.Second || srv.IdleTimeout != 90*time.Second || srv.MaxHeaderBytes != 8<<10 {
		t.Errorf("got ReadHeaderTimeout %v, IdleTimeout %v, MaxHeaderBytes %d; want 5s, 1m30s, 8192",
			srv.ReadHeaderTimeout, srv.IdleTimeout, srv.MaxHeaderBytes)
	}
}

// TestMetrics_HeaderLimit: headers past 8 KiB (plus net/http's 4 KiB of
// slack) get 431.
func TestMetrics_HeaderLimit(t *testing.T) {
	addr := startMetrics(t, New(Options{Logger: testLogger(t)}))
	if got := rawGet(t, addr, addr, "X-Pad: "+strings.Repeat("a", 4<<10)); got != http.StatusOK {
		t.Errorf("4 KiB header: got %d, want 200", got)
	}
	if got := rawGet(t, addr, addr, "X-Pad: "+strings.Repeat("a", 16<<10)); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("16 KiB header: got %d, want 431", got)
	}
}

// TestMetrics_ClosesIdleConnections: a kept-alive connection is closed
// once idle for IdleTimeout; before the fix it stayed open for good.
func TestMetrics_ClosesIdleConnections(t *testing.T) {
	m := New(Options{Logger: testLogger(t)})
	m.idleTimeout = 300 * time.Millisecond
	addr := startMetrics(t, m)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	fmt.Fprintf(conn, "GET /metrics HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("got %d, close=%v; want 200 on a kept-alive connection", resp.StatusCode, resp.Close)
	}
	start := time.Now()
	_ = conn.SetReadDeadline(start.Add(5 * time.Second))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: got %v, want EOF (closed by the server)", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("closed after %v, before the idle timeout", d)
	}
}

// TestMetrics_HeaderTimeout: a client that never finishes its headers is
// dropped after ReadHeaderTimeout.
func TestMetrics_HeaderTimeout(t *testing.T) {
	m := New(Options{Logger: testLogger(t)})
	m.readHeaderTimeout = 300 * time.Millisecond
	addr := startMetrics(t, m)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /metrics HTTP/1.1\r\nHost: %s\r\n", addr) // no blank line
	// 3 s: well past the 300 ms, well before the default 5 s.
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err = io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("connection with unfinished headers still open after 3 s")
	}
}

// testLogger sends the component's logs to t.Log.
func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testLogWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testLogWriter struct{ tb testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Logf("%s", strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
