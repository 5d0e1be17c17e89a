package imds

import (
	"net"
	"syscall"
	"testing"
)

// TestServer_HopLimitOnAcceptedSockets: with HopLimit set, every accepted
// socket, IPv4 and IPv6, carries it as its TTL / unicast hop limit.
func TestServer_HopLimitOnAcceptedSockets(t *testing.T) {
	s, _ := newTestServer(t, Options{Source: staticSource(Role{}, ErrNoRole), HopLimit: 1})
	for _, tc := range []struct {
		network, addr string
		level, opt    int
	}{
		{"tcp4", "127.0.0.1:0", syscall.IPPROTO_IP, syscall.IP_TTL},
		{"tcp6", "[::1]:0", syscall.IPPROTO_IPV6, syscall.IPV6_UNICAST_HOPS},
	} {
		raw, err := net.Listen(tc.network, tc.addr)
		if err != nil {
			t.Fatalf("listen %s: %v (the test needs IPv4 and IPv6 loopback)", tc.addr, err)
		}
		ln := s.wrapListener(raw, nil)
		c, err := net.Dial(tc.network, raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		sc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := sc.(*trackedConn).Conn.(syscall.Conn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var got int
		var gerr error
		_ = rc.Control(func(fd uintptr) { got, gerr = syscall.GetsockoptInt(int(fd), tc.level, tc.opt) })
		if gerr != nil || got != 1 {
			t.Errorf("%s: accepted socket hop limit = %d (%v), want 1", tc.network, got, gerr)
		}
		sc.Close()
		c.Close()
		ln.Close()
	}
}
