package imds

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// handleToken serves PUT /latest/api/token (shared/reference/imds-protocol.md
// §1.1), and answers the token API's other spellings (routes.go).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request, rt route, now time.Time) {
	if r.Method != http.MethodPut {
		w.Header()[headerAllow] = valueAllowPut
		writeError(w, http.StatusMethodNotAllowed)
		return
	}
	// A version-specific path or a trailing slash is 403 on real IMDS
	// ("This behavior is intended", EC2 User Guide).
	if rt.kind != routeToken {
		writeError(w, http.StatusForbidden)
		return
	}
	// Real IMDS rejects token requests that went through a proxy: it is the
	// one signal that a server-side request forgery or an open proxy is
	// fetching the token for someone else.
	if _, ok := r.Header[HeaderXForwardedFor]; ok {
		writeError(w, http.StatusForbidden)
		return
	}
	var ttlHeader string
	ttlValue := r.Header[HeaderTokenTTL]
	if len(ttlValue) > 0 {
		ttlHeader = ttlValue[0]
	}
	ttl, err := parseTokenTTL(ttlHeader)
	if err != nil {
		writeError(w, http.StatusBadRequest)
		return
	}
	h := w.Header()
	// aws-sdk-go-v2 fails the token call without this header
	// (feature/ec2/imds/api_op_GetToken.go), and then silently falls back
	// to IMDSv1.
	h[HeaderTokenTTL] = ttlEcho(ttlValue, ttl)
	buf := tokenBuffers.Get().(*[tokenEncodedLen]byte)
	writeBytes(w, s.tokens.appendToken(buf[:0], ttl, now))
	tokenBuffers.Put(buf) // Write does not retain its argument
}

// tokenBuffers hold encoded tokens while they are written, so the token PUT
// allocates nothing of its own.
var tokenBuffers = sync.Pool{New: func() any { return new([tokenEncodedLen]byte) }}

// ttlEcho returns the value of the TTL response header: the granted TTL in
// decimal seconds. parseTokenTTL accepts only that exact spelling, so when
// the request sent one value its header slice is reused, as net/http only
// reads it; otherwise (several values, the first one granted) a new value
// is formatted.
func ttlEcho(sent []string, ttl time.Duration) []string {
	if len(sent) == 1 {
		return sent
	}
	return []string{strconv.FormatInt(int64(ttl/time.Second), 10)}
}
