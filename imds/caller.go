package imds

import (
	"net"
	"net/http"
	"net/netip"
)

// caller identifies the client of r, with Options.IdentifyCaller when set.
func (s *Server) caller(r *http.Request) Caller {
	c := callerOf(r)
	if s.opts.IdentifyCaller != nil {
		c = s.opts.IdentifyCaller(c)
	}
	return c
}

// callerOf identifies the client of r by its addresses.
func callerOf(r *http.Request) Caller {
	var c Caller
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		c.Remote = ap
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if ta, ok := a.(*net.TCPAddr); ok {
			c.Local = ta.AddrPort()
		}
	}
	c.Remote = netip.AddrPortFrom(c.Remote.Addr().Unmap(), c.Remote.Port())
	c.Local = netip.AddrPortFrom(c.Local.Addr().Unmap(), c.Local.Port())
	return c
}
