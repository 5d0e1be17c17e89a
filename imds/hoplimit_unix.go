//go:build unix

package imds

import (
	"fmt"
	"net"
	"syscall"
)

// HopLimitSupported tells whether Options.HopLimit works on this OS.
const HopLimitSupported = true

// setHopLimit sets the IP TTL and the IPv6 unicast hop limit of c's
// socket, as EC2 does with HttpPutResponseHopLimit: answers then die after
// n routers, so a container behind an extra hop, or a host that forwards
// for one, never sees them.
func setHopLimit(c net.Conn, n int) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return fmt.Errorf("hop limit: %T has no socket", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return fmt.Errorf("hop limit: %w", err)
	}
	v6 := false
	if ta, ok := c.LocalAddr().(*net.TCPAddr); ok && ta.IP.To4() == nil {
		v6 = true
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		if v6 {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_UNICAST_HOPS, n)
			return
		}
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_TTL, n)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("hop limit: %w", err)
	}
	return nil
}
