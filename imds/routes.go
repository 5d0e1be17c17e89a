package imds

import (
	"net/http"

	"github.com/gorilla/mux"
)

// routeVarRole is the mux variable holding the role name in a credential path.
const routeVarRole = "role"

// routes builds the route table. Paths arrive with trailing slashes already
// trimmed; methods are checked before routing (only GET and HEAD get here).
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
	get(PathSecurityCredentials+"/{"+routeVarRole+"}", s.handleCredentials(false))
	get(PathExtendedCredentials, s.handleRoleListing)
	get(PathExtendedCredentials+"/{"+routeVarRole+"}", s.handleCredentials(true))
	get(PathInstanceID, s.handleInstanceID)
	get(PathPlacement, s.handlePlacement)
	get(PathAvailabilityZone, s.handleAvailabilityZone)
	get(PathRegion, s.handleRegion)
	get(PathDynamic, s.handleDynamic)
	get(PathInstanceIdentity, s.handleInstanceIdentity)
	get(PathIdentityDocument, s.handleIdentityDocument)
	return r
}
