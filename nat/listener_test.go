package nat

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestBridgeListener stands loopback addresses in for bridge gateways:
// 127.0.0.2/8 is a "bridge" whose network holds the client 127.0.0.1;
// 127.0.0.3/32 is one whose network does not.
func TestBridgeListener(t *testing.T) {
	port := freePort(t)
	b := NewBridgeListener(port, nil, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { b.Close() })
	admitted := Bridge{Name: "br-in", V4: netip.MustParsePrefix("127.0.0.2/8")}
	refused := Bridge{Name: "br-out", V4: netip.MustParsePrefix("127.0.0.3/32")}
	b.Update([]Bridge{admitted, refused})
	b.Update([]Bridge{admitted, refused}) // idempotent

	for _, a := range []string{"127.0.0.2", "127.0.0.3"} {
		if !b.Serving(netip.MustParseAddr(a)) {
			t.Fatalf("not serving %s after update", a)
		}
	}
	if b.Serving(netip.MustParseAddr("127.0.0.1")) {
		t.Error("serving an address that is no bridge's")
	}

	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := b.Accept()
		if err == nil {
			accepted <- c
		}
	}()

	t.Run("peer outside the bridge's network is closed", func(t *testing.T) {
		c := dialFrom(t, "127.0.0.1", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.3"), uint16(port)))
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
			t.Errorf("read: got %v, want EOF or reset (closed by the listener)", err)
		}
	})
	t.Run("peer inside is handed to Accept", func(t *testing.T) {
		c := dialFrom(t, "127.0.0.1", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), uint16(port)))
		defer c.Close()
		s := <-accepted
		defer s.Close()
		if got := s.LocalAddr().String(); got != netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), uint16(port)).String() {
			t.Errorf("accepted on %s, want 127.0.0.2:%d", got, port)
		}
	})
	t.Run("bridge gone closes its socket", func(t *testing.T) {
		b.Update([]Bridge{admitted})
		if b.Serving(netip.MustParseAddr("127.0.0.3")) {
			t.Error("still serving a removed bridge")
		}
		if _, err := net.Dial("tcp", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.3"), uint16(port)).String()); err == nil {
			t.Error("a removed bridge's socket still accepts")
		}
	})
	t.Run("close ends Accept", func(t *testing.T) {
		b.Close()
		if _, err := b.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("got %v, want net.ErrClosed", err)
		}
		if b.Serving(netip.MustParseAddr("127.0.0.2")) {
			t.Error("serving after Close")
		}
	})
}

func dialFrom(t *testing.T, src string, dst netip.AddrPort) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", dst.String())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}
