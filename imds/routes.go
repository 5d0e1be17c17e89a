package imds

import (
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
)

// routeVarRole is the mux variable holding the role name in a credential path.
const routeVarRole = "role"

// routes builds the route table. Paths arrive with trailing slashes already
// trimmed; methods are checked before routing (only GET and HEAD get here).
// The role listing and credential routes are also served by serveHot, which
// dispatch tries first; their entries here state the table and serve
// whatever serveHot declines.
func (s *Server) routes() *mux.Router {
	r := mux.NewRouter()
	r.SkipClean(true) // paths are matched as sent; no redirects
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound)
	})
	get := func(path string, h http.HandlerFunc) { r.Path(path).Handler(h) }

	get("/", s.handleRoot)
	get(PathLatest, s.handleLatest)
	get(PathMetaData, s.handleMetaData)
	get(PathIAM, s.handleIAM)
	get(PathIAMInfo, s.handleIAMInfo)
	get(PathSecurityCredentials, s.handleRoleListing)
	get(PathSecurityCredentials+"/{"+routeVarRole+"}", s.handleCredentialsRoute(false))
	get(PathExtendedCredentials, s.handleRoleListing)
	get(PathExtendedCredentials+"/{"+routeVarRole+"}", s.handleCredentialsRoute(true))
	get(PathInstanceID, s.handleInstanceID)
	get(PathPlacement, s.handlePlacement)
	get(PathAvailabilityZone, s.handleAvailabilityZone)
	get(PathRegion, s.handleRegion)
	get(PathDynamic, s.handleDynamic)
	get(PathInstanceIdentity, s.handleInstanceIdentity)
	get(PathIdentityDocument, s.handleIdentityDocument)
	return r
}

// Path prefixes of the credential documents.
const (
	prefixCredentials = PathSecurityCredentials + "/"
	prefixExtended    = PathExtendedCredentials + "/"
)

// serveHot serves the role listing and the credential documents, the
// requests every SDK credential fetch makes, without the router: mux copies
// the request twice and builds a vars map per match, which is most of what
// imdsd would otherwise allocate per request (docs/BENCHMARKS.md). It
// matches exactly what the route table does after trailing slashes are
// trimmed ({role} is one non-empty segment) and reports whether it served r.
func (s *Server) serveHot(w http.ResponseWriter, r *http.Request, now time.Time) bool {
	p := strings.TrimRight(r.URL.Path, "/")
	switch {
	case p == PathSecurityCredentials || p == PathExtendedCredentials:
		s.handleRoleListing(w, r)
	case strings.HasPrefix(p, prefixCredentials) && isSegment(p[len(prefixCredentials):]):
		s.handleCredentials(w, r, false, p[len(prefixCredentials):], now)
	case strings.HasPrefix(p, prefixExtended) && isSegment(p[len(prefixExtended):]):
		s.handleCredentials(w, r, true, p[len(prefixExtended):], now)
	default:
		return false
	}
	return true
}

// isSegment reports whether v is one non-empty path segment, what mux's
// default variable pattern [^/]+ matches.
func isSegment(v string) bool { return v != "" && strings.IndexByte(v, '/') < 0 }
