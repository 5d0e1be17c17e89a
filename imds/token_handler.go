package imds

import (
	"net/http"
	"strconv"
)

// handleToken serves PUT /latest/api/token (shared/reference/imds-protocol.md §1.1).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut {
		w.Header()[headerAllow] = valueAllowPut
		writeError(w, http.StatusMethodNotAllowed)
		return
	}
	// A version-specific path or a trailing slash is 403 on real IMDS
	// ("This behavior is intended", EC2 User Guide).
	if r.URL.Path != PathToken {
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
	if v := r.Header[HeaderTokenTTL]; len(v) > 0 {
		ttlHeader = v[0]
	}
	ttl, err := parseTokenTTL(ttlHeader)
	if err != nil {
		writeError(w, http.StatusBadRequest)
		return
	}
	tok := s.tokens.issue(ttl)
	h := w.Header()
	// aws-sdk-go-v2 fails the token call without this header
	// (feature/ec2/imds/api_op_GetToken.go), and then silently falls back
	// to IMDSv1.
	h[HeaderTokenTTL] = []string{strconv.FormatInt(int64(ttl.Seconds()), 10)}
	writeText(w, tok)
}
