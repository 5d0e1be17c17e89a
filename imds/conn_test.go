package imds

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
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
// after the idle limit, and each state change starts its count again.
func TestReaper_Limits(t *testing.T) {
	rp := newReaper(3*time.Hour, 5*time.Hour, time.Hour)
	defer rp.stop()
	active, activeCli := pipeConn(t)
	idle, idleCli := pipeConn(t)
	busy, busyCli := pipeConn(t)
	for _, c := range []*trackedConn{active, idle, busy} {
		rp.connState(c, http.StateNew)
	}
	rp.connState(active, http.StateActive)
	rp.connState(idle, http.StateIdle)
	rp.connState(busy, http.StateActive)
	for i := 1; i <= 3; i++ {
		rp.sweep()
		// busy finishes a request and starts the next every tick.
		rp.connState(busy, http.StateIdle)
		rp.connState(busy, http.StateActive)
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

// TestReaper_Stops: the reaper's goroutine ends when no connection is left,
// and a new connection starts it again.
func TestReaper_Stops(t *testing.T) {
	rp := newReaper(3*time.Hour, 5*time.Hour, time.Hour)
	defer rp.stop()
	c, _ := pipeConn(t)
	rp.connState(c, http.StateNew)
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

// TestReaper_UntrackedConnGetsWriteDeadline: a connection the reaper cannot
// track (not from the server's listener) gets a write deadline instead when
// a request starts, so a client that stops reading cannot hold it forever.
func TestReaper_UntrackedConnGetsWriteDeadline(t *testing.T) {
	rp := newReaper(10*time.Millisecond, time.Hour, 10*time.Millisecond)
	srv, cli := net.Pipe()
	defer srv.Close()
	defer cli.Close()
	rp.connState(srv, http.StateActive)
	// Nobody reads cli: without a deadline this write blocks forever.
	done := make(chan error, 1)
	go func() { _, err := srv.Write([]byte("answer")); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("write to a client that does not read: err = %v, want a deadline error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("write to a client that does not read still blocked after 10 s: no deadline set")
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
	dial := func(t *testing.T) net.Conn {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		return c
	}
	const get = "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 127.0.0.1\r\n"

	for _, tc := range []struct{ name, request string }{
		{"unfinished body", get + "Content-Length: 100000\r\n\r\npartial"},
		{"idle keep-alive", get + "\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t)
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
		c := dial(t)
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
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
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
