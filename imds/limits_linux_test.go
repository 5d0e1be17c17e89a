package imds

// Tests that connect from several loopback addresses (127.0.0.2, ...):
// Linux routes all of 127.0.0.0/8 to lo; macOS has only 127.0.0.1.

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/imdsd/imdsd/internal/testutil"
)

// requestLine is one IMDS request with nothing to identify its sender.
const requestLine = "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

// dialFrom connects to addr from the loopback address src; the connection
// closes when the test ends.
func dialFrom(tb testing.TB, src, addr string) net.Conn {
	tb.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		tb.Fatalf("dial from %s: %v", src, err)
	}
	tb.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second)) // a bound on a hang, not a timing assertion
	return c
}

// send writes one request on c.
func send(tb testing.TB, c net.Conn) {
	tb.Helper()
	if _, err := io.WriteString(c, requestLine); err != nil {
		tb.Fatalf("write: %v", err)
	}
}

// answered reports whether c gets an HTTP 200 to the request sent on it.
func answered(c net.Conn) bool {
	buf := make([]byte, 12)
	n, _ := io.ReadFull(c, buf)
	return n == 12 && string(buf) == "HTTP/1.1 200"
}

// drain reads the rest of one small answer (its body is the instance ID).
func drain(tb testing.TB, c net.Conn) {
	tb.Helper()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			tb.Fatalf("read: %v", err)
		}
		if strings.Contains(string(buf[:n]), "i-0123456789abcdef0") {
			return
		}
	}
}

// closedUnanswered reports whether the server closes c without an answer.
func closedUnanswered(c net.Conn) bool {
	n, err := c.Read(make([]byte, 1))
	return n == 0 && err != nil && !isTimeout(err)
}

// TestServer_ConnCapPerClient: past MaxConnsPerClient a caller's new
// connection takes the slot of one of its idle keep-alive connections, or
// waits for one of its busy ones to close, up to the bounded wait, and only
// then is closed; other callers are not held up; the queue is bounded
// (issue 15 item 2: closing at once failed honest bursts).
func TestServer_ConnCapPerClient(t *testing.T) {
	newCapped := func(t *testing.T) (*Server, *testutil.Clock, *countingHandler, string) {
		log, lines := newCountingLogger(t)
		s, _ := newTestServer(t, Options{Source: staticSource(Role{}, ErrNoRole), Now: time.Now, MaxConnsPerClient: 2, Logger: log})
		clk := newFakeClock()
		s.connAfter = clk.After
		addr, _ := runServer(t, s)
		// Waiters still queued at the end run out of time before Run's
		// shutdown waits for them.
		t.Cleanup(func() { clk.Advance(DefaultConnWait) })
		return s, clk, lines, addr
	}

	t.Run("an idle connection gives its slot", func(t *testing.T) {
		s, _, _, addr := newCapped(t)
		a1, a2 := dialFrom(t, "127.0.0.1", addr), dialFrom(t, "127.0.0.1", addr)
		for _, c := range []net.Conn{a1, a2} {
			send(t, c)
			if !answered(c) {
				t.Fatal("first two connections of a client not served")
			}
			drain(t, c)
		}
		// Both are idle now; the reaper's mark says so once net/http has
		// set StateIdle.
		testutil.WaitFor(t, 10*time.Second, func() bool { return idleConns(s) == 2 }, "both connections idle")
		a3 := dialFrom(t, "127.0.0.1", addr)
		send(t, a3)
		if !answered(a3) {
			t.Fatal("third connection of a client with two idle ones not served")
		}
		// One of the two is closed; the other stays open, so the first
		// of them to end its read must be the closed one.
		closed := make(chan bool, 2)
		for _, c := range []net.Conn{a1, a2} {
			go func() { closed <- closedUnanswered(c) }()
		}
		if !<-closed {
			t.Fatal("neither idle connection was closed for the third")
		}
		if got := s.SecurityStats().ConnsEvicted; got != 1 {
			t.Errorf("SecurityStats().ConnsEvicted = %d, want 1", got)
		}
	})

	t.Run("a busy caller's new connection waits for a slot", func(t *testing.T) {
		s, clk, _, addr := newCapped(t)
		// Two silent connections: each holds a slot, neither is idle.
		b1, _ := dialFrom(t, "127.0.0.1", addr), dialFrom(t, "127.0.0.1", addr)
		waitSlots(t, s, 2)
		b3 := dialFrom(t, "127.0.0.1", addr)
		send(t, b3)
		clk.WaitPending(t, 1) // b3 waits
		other := dialFrom(t, "127.0.0.2", addr)
		send(t, other)
		if !answered(other) {
			t.Fatal("another client's connection not served while the first is at its cap")
		}
		b1.Close()
		if !answered(b3) {
			t.Fatal("waiting connection not served once a slot was freed")
		}
		if got := s.SecurityStats().ConnsRefused; got != 0 {
			t.Errorf("SecurityStats().ConnsRefused = %d, want 0", got)
		}
	})

	t.Run("the wait is bounded", func(t *testing.T) {
		s, clk, lines, addr := newCapped(t)
		dialFrom(t, "127.0.0.1", addr)
		dialFrom(t, "127.0.0.1", addr)
		waitSlots(t, s, 2)
		c := dialFrom(t, "127.0.0.1", addr)
		send(t, c)
		clk.WaitPending(t, 1)
		clk.Advance(DefaultConnWait)
		if !closedUnanswered(c) {
			t.Fatal("connection still open after its wait for a slot ran out")
		}
		if got := s.SecurityStats().ConnsRefused; got != 1 {
			t.Errorf("SecurityStats().ConnsRefused = %d, want 1", got)
		}
		if got := lines.matching(msgConnCap, "caller=127.0.0.1", "refused=1"); len(got) != 1 {
			t.Errorf("connection cap lines naming the caller = %q, want 1", got)
		}
	})

	t.Run("the queue is bounded", func(t *testing.T) {
		s, clk, _, addr := newCapped(t)
		dialFrom(t, "127.0.0.1", addr)
		dialFrom(t, "127.0.0.1", addr)
		waitSlots(t, s, 2)
		for range 2 {
			send(t, dialFrom(t, "127.0.0.1", addr))
		}
		clk.WaitPending(t, 2)
		c := dialFrom(t, "127.0.0.1", addr)
		send(t, c)
		if !closedUnanswered(c) {
			t.Fatal("connection past the cap and a full queue not closed at once")
		}
		if got := s.SecurityStats().ConnsRefused; got != 1 {
			t.Errorf("SecurityStats().ConnsRefused = %d, want 1", got)
		}
	})
}

// waitSlots waits until n connections of s's last Serve call hold a slot,
// so that the next one is over the cap whatever order the connections'
// goroutines run in.
func waitSlots(tb testing.TB, s *Server, n int) {
	tb.Helper()
	testutil.WaitFor(tb, 10*time.Second, func() bool {
		g := s.lastGate.Load()
		if g == nil {
			return false
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		have := 0
		for _, grp := range g.groups {
			have += len(grp.open)
		}
		return have >= n
	}, fmt.Sprintf("%d connections holding a slot", n))
}

// idleConns counts the idle connections of s's last Serve call.
func idleConns(s *Server) int {
	g := s.lastGate.Load()
	if g == nil {
		return 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, grp := range g.groups {
		for c := range grp.open {
			if c.idle() {
				n++
			}
		}
	}
	return n
}
