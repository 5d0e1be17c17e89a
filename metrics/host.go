package metrics

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// hostCheck refuses, with 403, a request whose Host header is not one a
// scraper uses: an IP address, localhost, or the listener's own address,
// each with or without a port.
//
// The threat is DNS rebinding (issue 15 item 4): a web page on
// evil.example re-resolves its name to 127.0.0.1, and the browser then lets
// its scripts read http://evil.example:PORT/metrics, which names the roles
// and counts their use. The browser still sends Host: evil.example, and no
// name an attacker controls is on this list.
func hostCheck(next http.Handler, local net.Addr) http.Handler {
	self := ""
	if local != nil {
		self = local.String()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hostAllowed(r.Host, self) {
			http.Error(w, "metrics: Host not allowed", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostAllowed reports whether host (a Host header) is an IP literal,
// localhost or self, with an optional port.
func hostAllowed(host, self string) bool {
	if host == "" {
		return false
	}
	if self != "" && strings.EqualFold(host, self) {
		return true
	}
	h := host
	if hh, port, err := net.SplitHostPort(host); err == nil {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return false
		}
		h = hh
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		h = host[1 : len(host)-1]
	}
	if strings.EqualFold(h, "localhost") {
		return true
	}
	// netip accepts only canonical literals: not 0x7f000001 or 2130706433,
	// spellings that only some resolvers take for an address.
	_, err := netip.ParseAddr(h)
	return err == nil
}
