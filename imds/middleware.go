package imds

import (
	"net/http"
	"time"
)

// Shared header values. http.Header values are slices; these are assigned,
// never appended to, so sharing them saves an allocation per response.
var (
	valueServer      = []string{serverName}
	valueText        = []string{contentText}
	valueHTML        = []string{contentHTML}
	valueAllowGet    = []string{allowMetadata}
	valueAllowPut    = []string{allowTokenRoute}
	valueNoSniff     = []string{"nosniff"}
	valueClose       = []string{"close"}
	headerConnection = "Connection"
	headerDate       = "Date"
	headerNoSniffKey = "X-Content-Type-Options"
)

// serveIMDS is the request path for rt, r's classified path: the headers
// every answer carries ("Server: EC2ws", as real IMDS), the request checks
// (security.go), the rate limit, then dispatch. It is one function rather
// than a chain of middleware so that the clock is read once per request and
// the connection's parsed addresses (conn.go) are looked up once.
func (s *Server) serveIMDS(w http.ResponseWriter, r *http.Request, rt route) {
	h := w.Header()
	h[headerServer] = valueServer
	h[headerNoSniffKey] = valueNoSniff
	if r.ContentLength != 0 {
		// No IMDS request has a body. Answer, then close, rather than
		// wait for a body net/http would read to the end first.
		h[headerConnection] = valueClose
	}
	ci := connOf(r)
	if !s.screen(w, r, ci) {
		return
	}
	now := s.now()
	h[headerDate] = s.date.value(now)
	if !s.allowRate(w, r, ci, now) {
		return
	}
	s.dispatch(w, r, rt, now)
}

// dispatch serves rt from the route table (routes.go). Token routes go to
// the token handler whatever their method; on any other route a method
// other than GET or HEAD is 405; then the IMDSv2 token rules apply, and only
// then the route's handler (so an unknown path in required mode is 401, as
// on EC2, before it is 404).
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, rt route, now time.Time) {
	spec := &routeTable[rt.kind]
	if !spec.tokenAPI {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header()[headerAllow] = valueAllowGet
			writeError(w, http.StatusMethodNotAllowed)
			return
		}
		if !s.tokenOK(w, r, now) {
			return
		}
	}
	spec.serve(s, w, r, rt, now)
}

// tokenOK applies the IMDSv2 rules to a metadata request. A token that is
// sent is always checked, even in optional mode: the Go SDK reacts to a 401
// by fetching a new token, so a stale one must not be silently accepted as
// IMDSv1. In required mode a request without a token is 401.
func (s *Server) tokenOK(w http.ResponseWriter, r *http.Request, now time.Time) bool {
	v, sent := r.Header[HeaderToken]
	if !sent || len(v) == 0 {
		if s.opts.TokenRequired {
			writeError(w, http.StatusUnauthorized)
			return false
		}
		return true
	}
	if err := s.tokens.check(v[0], now); err != nil {
		writeError(w, http.StatusUnauthorized)
		return false
	}
	return true
}
