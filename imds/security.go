package imds

import (
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
)

// DefaultAllowedHosts are the Host values a client of an IMDS legitimately
// sends besides the address it connected to: the link-local IMDS addresses
// (reached through a DNAT or a loopback alias), the container credential
// endpoints, the loopback names and host.docker.internal. None of them is a
// name a web page's author controls in DNS, which is what DNS rebinding
// needs (see [Options.AllowedHosts]).
var DefaultAllowedHosts = []string{
	"169.254.169.254", "fd00:ec2::254",
	"169.254.170.2", "169.254.170.23", "fd00:ec2::23",
	"127.0.0.1", "::1", "localhost",
	"host.docker.internal",
}

// SecurityStats counts requests and connections refused by the checks of
// security.go and limits.go, for status and metrics.
type SecurityStats struct {
	BadHost      uint64 // 403: Host not in the allowlist (DNS rebinding)
	Browser      uint64 // 403: Origin, Referer or Sec-Fetch-* sent
	RateLimited  uint64 // 429: a client over its request rate
	ConnsRefused uint64 // connections closed unanswered: a caller over its connection cap found no slot in time
	ConnsEvicted uint64 // idle keep-alive connections closed to give their slot to a new one of the same caller
	ConnsShed    uint64 // idle connections closed at the global limit (MaxConns) for a new one
	ConnsFull    uint64 // new connections closed at the global limit: every open one was in a request
}

// securityCounters are the atomic counters behind SecurityStats.
type securityCounters struct {
	badHost, browser, rateLimited, connsRefused, connsEvicted atomic.Uint64
	connsShed, connsFull                                      atomic.Uint64
}

// SecurityStats returns how many requests and connections the checks
// refused so far.
func (s *Server) SecurityStats() SecurityStats {
	c := &s.counters
	return SecurityStats{
		BadHost:      c.badHost.Load(),
		Browser:      c.browser.Load(),
		RateLimited:  c.rateLimited.Load(),
		ConnsRefused: c.connsRefused.Load(),
		ConnsEvicted: c.connsEvicted.Load(),
		ConnsShed:    c.connsShed.Load(),
		ConnsFull:    c.connsFull.Load(),
	}
}

// hostSet is the Host allowlist: names compared case-insensitively, and IP
// addresses. An empty, unset hostSet allows everything (the check is off).
type hostSet struct {
	on    bool
	names []string
	addrs map[netip.Addr]struct{}
}

// newHostSet builds the allowlist from hosts; nil turns the check off.
// Entries may carry a port or brackets ("[::1]:80"): only the host counts.
func newHostSet(hosts []string) hostSet {
	if hosts == nil {
		return hostSet{}
	}
	h := hostSet{on: true, addrs: map[netip.Addr]struct{}{}}
	for _, v := range hosts {
		name, ok := splitHost(v)
		if !ok {
			name = strings.Trim(v, "[]")
		}
		if a, err := netip.ParseAddr(name); err == nil {
			h.addrs[a.Unmap()] = struct{}{}
			continue
		}
		h.names = append(h.names, strings.ToLower(name))
	}
	return h
}

// allowed reports whether host (a Host header value) names this server:
// an allowed name or address, or the very address the connection arrived
// on (so every listen address, bridge addresses included, is allowed
// without configuration).
func (h *hostSet) allowed(host string, local netip.Addr) bool {
	if !h.on {
		return true
	}
	name, ok := splitHost(host)
	if !ok {
		return false
	}
	if a, err := netip.ParseAddr(name); err == nil {
		a = a.Unmap()
		if a.Zone() != "" {
			return false
		}
		if _, ok := h.addrs[a]; ok {
			return true
		}
		return local.IsValid() && a == local
	}
	for _, n := range h.names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// splitHost returns the host part of a Host header value: "a:80" and "a"
// give "a", "[::1]:80" and "[::1]" give "::1". A port must be decimal
// 1..65535 (issue 15 item 10: "[::1]:99999" passed). A bare IPv6 address
// without brackets, an empty host or a bad port is not ok.
func splitHost(v string) (string, bool) {
	var host, port string
	if strings.HasPrefix(v, "[") {
		end := strings.IndexByte(v, ']')
		if end < 0 {
			return "", false
		}
		host, port = v[1:end], v[end+1:]
		if port != "" {
			if port[0] != ':' {
				return "", false
			}
			port = port[1:]
			if port == "" {
				return "", false
			}
		}
		if !strings.Contains(host, ":") {
			return "", false
		}
	} else {
		host = v
		if i := strings.IndexByte(v, ':'); i >= 0 {
			host, port = v[:i], v[i+1:]
			if port == "" {
				return "", false
			}
		}
	}
	if host == "" || (port != "" && !validPort(port)) {
		return "", false
	}
	return host, true
}

// validPort reports whether p is a TCP port in decimal: 1 to 5 digits,
// 1..65535.
func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n >= 1 && n <= 65535
}

// isBrowserRequest reports whether r carries a header only browsers send.
// curl, the SDKs and the CLI never send Origin, Referer or Sec-Fetch-*;
// a browser sends at least one of them on every cross-origin request and
// on fetches from a page (Sec-Fetch-* since 2020 in every engine).
func isBrowserRequest(h http.Header) bool {
	for k := range h {
		if k == "Origin" || k == "Referer" || strings.HasPrefix(k, "Sec-Fetch-") {
			return true
		}
	}
	return false
}

// screen refuses, before any routing, the requests no legitimate IMDS
// client sends, and reports whether the request may go on:
//
//   - A Host outside the allowlist is 403. A web page that rebinds its own
//     DNS name to 127.0.0.1 or 169.254.169.254 reaches the daemon with the
//     page's name in Host; this is what stops it reading credentials
//     (aws-vault's DNS-rebinding guard, 99designs/aws-vault#578).
//   - A browser request (Origin, Referer, Sec-Fetch-*) is 403: even with a
//     good Host (a page on http://127.0.0.1 itself, or a form posted to the
//     link-local address) a browser is never a legitimate caller. No CORS
//     header is ever sent, so a browser cannot read any answer anyway.
//
// X-Forwarded-For on the token PUT is refused by handleToken, as on EC2.
func (s *Server) screen(w http.ResponseWriter, r *http.Request, ci *connInfo) bool {
	if r.Host != ci.okHost || r.Host == "" {
		if !s.hosts.allowed(r.Host, ci.local.Addr()) {
			s.refuse(w, r, ci, &s.counters.badHost, s.logs.badHost, slog.String("host", r.Host))
			return false
		}
		ci.okHost = r.Host
	}
	if isBrowserRequest(r.Header) {
		s.refuse(w, r, ci, &s.counters.browser, s.logs.browser, slog.String("origin", r.Header.Get("Origin")))
		return false
	}
	return true
}

// refuse answers 403, counts, and logs within the kind's line budget
// (logbudget.go), so a flood cannot flood the log while the first
// refusals are always seen.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, ci *connInfo, n *atomic.Uint64, lines *lineBudget, attr slog.Attr) {
	c := n.Add(1)
	lines.logf(attrCaller, ci.key.String(), attrClient, r.RemoteAddr, attr, "count", c)
	writeError(w, http.StatusForbidden)
}

// Guard returns h behind the same checks as the IMDS routes: the Host
// allowlist, browser signals and the per-client rate limit of s's
// Options. It is meant for the container credentials endpoint, which is
// served next to the IMDS with its own handler.
func (s *Server) Guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ci := connOf(r)
		if s.screen(w, r, ci) && s.allowRate(w, r, ci, s.now()) {
			h.ServeHTTP(w, r)
		}
	})
}
