package imds

// Tests that connect from several loopback addresses (127.0.0.2, ...):
// Linux routes all of 127.0.0.0/8 to lo; macOS has only 127.0.0.1.

import (
	"net"
	"testing"
	"time"
)

// TestServer_ConnCapPerClient: past MaxConnsPerClient a client's new
// connections are closed at once; another client still connects; a freed
// slot is reusable.
func TestServer_ConnCapPerClient(t *testing.T) {
	s, _ := newTestServer(t, Options{Source: staticSource(Role{}, ErrNoRole), Now: time.Now, MaxConnsPerClient: 2})
	addr, _ := runServer(t, s)

	dialFrom := func(src string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial from %s: %v", src, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// served reports whether c gets an HTTP answer.
	served := func(c net.Conn) bool {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte("GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")); err != nil {
			return false
		}
		buf := make([]byte, 12)
		n, _ := c.Read(buf)
		return n == 12 && string(buf) == "HTTP/1.1 200"
	}
	a1, a2 := dialFrom("127.0.0.1"), dialFrom("127.0.0.1")
	if !served(a1) || !served(a2) {
		t.Fatal("first two connections of a client not served")
	}
	if a3 := dialFrom("127.0.0.1"); served(a3) {
		t.Fatal("third concurrent connection of a client served, want it closed")
	}
	if b1 := dialFrom("127.0.0.2"); !served(b1) {
		t.Fatal("another client's connection not served while the first is at its cap")
	}
	a1.Close()
	// The slot comes back once the server has seen the close; retry a
	// bounded number of times (no timing assertion: only the outcome).
	for i := 0; ; i++ {
		if served(dialFrom("127.0.0.1")) {
			break
		}
		if i == 50 {
			t.Fatal("slot of a closed connection never freed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := s.SecurityStats().ConnsRefused; got < 1 {
		t.Errorf("SecurityStats().ConnsRefused = %d, want at least 1", got)
	}
}
