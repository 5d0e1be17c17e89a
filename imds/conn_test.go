package imds

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// pipeConn returns a tracked server end and the client end of a net.Pipe.
func pipeConn(t *testing.T) (*trackedConn, net.Conn) {
	t.Helper()
	srv, cli := net.Pipe()
	t.Cleanup(func() { srv.Close(); cli.Close() })
	return &trackedConn{Conn: srv}, cli
}

// reapedConn returns a reaper ticking every hour, with the given header
// limit, an active limit of 3 ticks and an idle limit of 5, and a new
// connection it tracks. The test's cleanup stops the reaper.
func reapedConn(t *testing.T, header time.Duration) (*reaper, *trackedConn, net.Conn) {
	t.Helper()
	rp := newReaper(header, 3*time.Hour, 5*time.Hour, time.Hour)
	t.Cleanup(rp.stop)
	c, cli := pipeConn(t)
	rp.connState(c, http.StateNew)
	return rp, c, cli
}

// isClosed reports whether c's server end was closed: the client end reads
// EOF at once (a pipe end that is open would block; the read deadline
// bounds that).
func isClosed(t *testing.T, cli net.Conn) bool {
	t.Helper()
	_ = cli.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := cli.Read(make([]byte, 1))
	return errors.Is(err, io.EOF)
}

// TestReaper_Limits drives the reaper's clock by hand (sweep is one tick;
// the tick itself is an hour, so its goroutine never sweeps on its own): a
// connection in a request is closed after the active limit, an idle one
// after the idle limit, one reading a request's headers (bytes arrived
// while it was idle) after the header limit, and each state change starts
// its count again.
func TestReaper_Limits(t *testing.T) {
	rp := newReaper(2*time.Hour, 3*time.Hour, 5*time.Hour, time.Hour)
	defer rp.stop()
	active, activeCli := pipeConn(t)
	idle, idleCli := pipeConn(t)
	busy, busyCli := pipeConn(t)
	header, headerCli := pipeConn(t)
	for _, c := range []*trackedConn{active, idle, busy, header} {
		rp.connState(c, http.StateNew)
	}
	rp.connState(active, http.StateActive)
	rp.connState(idle, http.StateIdle)
	rp.connState(busy, http.StateActive)
	rp.connState(header, http.StateIdle)
	// header's client starts a request: a byte arrives while it is idle.
	go func() { _, _ = headerCli.Write([]byte("G")) }()
	if _, err := header.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		rp.sweep()
		rp.connState(busy, http.StateIdle)
		rp.connState(busy, http.StateActive)
	}
	if isClosed(t, headerCli) {
		t.Fatal("connection reading headers closed at its header limit, want after it")
	}
	rp.sweep() // 3 ticks in the headers
	rp.connState(busy, http.StateIdle)
	rp.connState(busy, http.StateActive)
	if !isClosed(t, headerCli) {
		t.Fatal("connection reading a request's headers for longer than the header limit still open")
	}
	if isClosed(t, activeCli) {
		t.Fatal("connection in a request closed at its active limit, want after it")
	}
	rp.sweep() // 4 ticks in the request
	if !isClosed(t, activeCli) {
		t.Fatal("connection in a request for longer than the active limit still open")
	}
	if isClosed(t, idleCli) {
		t.Fatal("idle connection closed before its idle limit")
	}
	rp.sweep()
	rp.sweep() // 6 ticks idle
	if !isClosed(t, idleCli) {
		t.Fatal("connection idle for longer than the idle limit still open")
	}
	if isClosed(t, busyCli) {
		t.Fatal("connection making a request every tick was closed")
	}
}

// TestReaper_NewConnHasHeaderLimit: a connection that never sends its
// first request is bounded by the header limit from accept, as net/http's
// ReadHeaderTimeout was, not by the longer idle limit.
func TestReaper_NewConnHasHeaderLimit(t *testing.T) {
	rp, _, cli := reapedConn(t, time.Hour)
	rp.sweep()
	if isClosed(t, cli) {
		t.Fatal("new connection closed at its header limit, want after it")
	}
	rp.sweep()
	if !isClosed(t, cli) {
		t.Fatal("new connection silent for longer than the header limit still open")
	}
}

// TestReaper_ReadsInARequestKeepItActive: a read in a request (of its
// body, or net/http's background read returning a byte of the next
// request) must not turn the connection's active limit into the header
// limit.
func TestReaper_ReadsInARequestKeepItActive(t *testing.T) {
	rp, c, cli := reapedConn(t, time.Hour)
	rp.connState(c, http.StateActive)
	go func() { _, _ = cli.Write([]byte("body")) }()
	if n, err := c.Read(make([]byte, 8)); err != nil || n == 0 {
		t.Fatalf("read in a request: %d bytes, %v", n, err)
	}
	if got := c.mark.Load() & markMask; got != markActive {
		t.Fatalf("mark kind after a read in a request = %d, want active (%d)", got, markActive)
	}
}

// TestReaper_Stops: the reaper's goroutine ends when no connection is left,
// and a new connection starts it again.
func TestReaper_Stops(t *testing.T) {
	rp, c, _ := reapedConn(t, 5*time.Hour)
	if !rp.sweep() {
		t.Fatal("reaper stops with a connection open")
	}
	rp.connState(c, http.StateClosed)
	if rp.sweep() {
		t.Fatal("reaper keeps running with no connection")
	}
	rp.mu.Lock()
	running := rp.running
	rp.mu.Unlock()
	if running {
		t.Fatal("reaper marked running after it stopped")
	}
	rp.connState(c, http.StateNew)
	rp.mu.Lock()
	running = rp.running
	rp.mu.Unlock()
	if !running {
		t.Fatal("new connection did not start the reaper again")
	}
}

// TestServer_ClosesStalledConnections runs the server on a real socket
// with short limits. A request with a body (no IMDS request has one) is
// answered and its connection closed; an idle keep-alive connection and a
// client that sends requests but never reads the answers are disconnected
// by the reaper. Each client waits at most 10 s (a bound that fails the
// test, not a timing assertion).
func TestServer_ClosesStalledConnections(t *testing.T) {
	s, _ := newTestServer(t, Options{Source: staticSource(Role{}, ErrNoRole), Now: time.Now})
	s.activeTimeout, s.idleTimeout, s.reaperTick = 200*time.Millisecond, 300*time.Millisecond, 50*time.Millisecond
	addr, _ := runServer(t, s)
	const get = "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 127.0.0.1\r\n"

	for _, tc := range []struct{ name, request string }{
		{"unfinished body", get + "Content-Length: 100000\r\n\r\npartial"},
		{"idle keep-alive", get + "\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialServer(t, addr)
			if _, err := io.WriteString(c, tc.request); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", resp.StatusCode)
			}
			// Then nothing: the server must close the connection.
			if _, err := br.ReadByte(); err == nil || isTimeout(err) {
				t.Fatalf("connection still open 10 s after the answer (read: %v); want it closed by the server", err)
			}
		})
	}

	t.Run("client never reads", func(t *testing.T) {
		c := dialServer(t, addr)
		// Pipelined requests whose answers are never read fill the
		// socket buffers; the server's write then blocks until the
		// reaper closes the connection, and this client's writes fail.
		batch := []byte(strings.Repeat(get+"\r\n", 256))
		for {
			if _, err := c.Write(batch); err != nil {
				if isTimeout(err) {
					t.Fatal("connection still open 10 s after the client stopped reading; want it closed by the server")
				}
				return
			}
		}
	})
}

// TestServer_HeaderTimeout runs the server on a real socket with a short
// header limit and long active and idle limits: a new connection that
// sends nothing, and a keep-alive connection that starts its next request
// and stalls in the headers, are closed by the header limit; a keep-alive
// connection idle between requests for several header limits is not.
// Each client waits at most 10 s, a third of the idle limit (a bound that
// fails the test, not a timing assertion).
func TestServer_HeaderTimeout(t *testing.T) {
	s, _ := newTestServer(t, Options{Source: staticSource(Role{}, ErrNoRole), Now: time.Now})
	s.headerTimeout, s.activeTimeout, s.idleTimeout, s.reaperTick = 150*time.Millisecond, 30*time.Second, 30*time.Second, 50*time.Millisecond
	addr, _ := runServer(t, s)
	dial := func(t *testing.T) (net.Conn, *bufio.Reader) {
		c := dialServer(t, addr)
		return c, bufio.NewReader(c)
	}
	const get = "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
	roundTrip := func(t *testing.T, c net.Conn, br *bufio.Reader) {
		t.Helper()
		if _, err := io.WriteString(c, get); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d, want 200", resp.StatusCode)
		}
	}
	closed := func(t *testing.T, br *bufio.Reader, what string) {
		t.Helper()
		if _, err := br.ReadByte(); err == nil || isTimeout(err) {
			t.Fatalf("%s: connection still open after 10 s (read: %v); want it closed at the header limit", what, err)
		}
	}

	t.Run("silent new connection", func(t *testing.T) {
		_, br := dial(t)
		closed(t, br, "no request sent")
	})
	t.Run("stalled headers after a request", func(t *testing.T) {
		c, br := dial(t)
		roundTrip(t, c, br)
		if _, err := io.WriteString(c, "GET /latest/meta-data/ HTTP/1.1\r\nHo"); err != nil {
			t.Fatal(err)
		}
		closed(t, br, "half a header sent")
	})
	t.Run("idle keep-alive outlives the header limit", func(t *testing.T) {
		c, br := dial(t)
		roundTrip(t, c, br)
		// The sleep is the behaviour under test: a client idle for six
		// header limits on a real socket, which the reaper must not close.
		time.Sleep(6 * 150 * time.Millisecond)
		roundTrip(t, c, br)
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestServer_HostCheckedPerRequest: the allowlist result is remembered per
// connection, yet a request with another Host on the same keep-alive
// connection is checked anew (a rebinding page cannot ride a connection an
// SDK opened).
func TestServer_HostCheckedPerRequest(t *testing.T) {
	s, _ := newTestServer(t, Options{Source: staticSource(Role{}, ErrNoRole), Now: time.Now, AllowedHosts: DefaultAllowedHosts})
	addr, _ := runServer(t, s)
	c := dialServer(t, addr)
	br := bufio.NewReader(c)
	for i, tc := range []struct {
		host string
		want int
	}{
		{"169.254.169.254", http.StatusOK},
		{"169.254.169.254", http.StatusOK},
		{"evil.example", http.StatusForbidden},
		{"169.254.169.254", http.StatusOK},
		{"", http.StatusForbidden},
		{"localhost", http.StatusOK},
	} {
		req := "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: " + tc.host + "\r\n\r\n"
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d (Host %q): %v", i, tc.host, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Fatalf("request %d on one connection, Host %q: status %d, want %d", i, tc.host, resp.StatusCode, tc.want)
		}
	}
}

// TestServer_DateHeader: every answer has a Date header in HTTP's format,
// the server clock's second, and a new second gives a new value.
func TestServer_DateHeader(t *testing.T) {
	s, clk := newTestServer(t, Options{Source: staticSource(Role{}, ErrNoRole)})
	clk.Advance(-clk.Now().Sub(time.Date(2026, 11, 27, 21, 40, 5, 900e6, time.UTC)))
	w := do(s, http.MethodGet, PathInstanceID)
	if got, want := w.Header().Get("Date"), "Fri, 27 Nov 2026 21:40:05 GMT"; got != want {
		t.Fatalf("Date = %q, want %q", got, want)
	}
	clk.Advance(200 * time.Millisecond)
	if got, want := do(s, http.MethodGet, PathInstanceID).Header().Get("Date"), "Fri, 27 Nov 2026 21:40:06 GMT"; got != want {
		t.Fatalf("Date in the next second = %q, want %q", got, want)
	}
	// A refused request carries it too (set before the checks that refuse).
	if got := do(s, http.MethodPut, PathInstanceID).Header().Get("Date"); got == "" {
		t.Fatal("405 answer without a Date header")
	}
}

// TestServer_AnswerHeaders: over net/http, an answer carries the headers
// real IMDS sends (Content-Type: text/plain, Server: EC2ws, Date,
// Content-Length), X-Content-Type-Options: nosniff, and no other.
func TestServer_AnswerHeaders(t *testing.T) {
	s, _ := newTestServer(t, Options{Source: staticSource(Role{Name: "demo", Credentials: testCreds(time.Now())}, nil), Now: time.Now})
	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, path := range []string{PathSecurityCredentials + "/demo", PathSecurityCredentials + "/", PathInstanceID} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", path, resp.StatusCode)
		}
		var got []string
		for k := range resp.Header {
			got = append(got, k)
		}
		sort.Strings(got)
		if want := []string{"Content-Length", "Content-Type", "Date", "Server", "X-Content-Type-Options"}; !slices.Equal(got, want) {
			t.Errorf("%s: answer headers %v, want %v", path, got, want)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/plain" {
			t.Errorf("%s: Content-Type %q, want text/plain", path, ct)
		}
		if _, err := http.ParseTime(resp.Header.Get("Date")); err != nil {
			t.Errorf("%s: Date %q: %v", path, resp.Header.Get("Date"), err)
		}
	}
}
