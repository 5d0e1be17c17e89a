package imds

import (
	"net/http"
	"strings"
	"time"
)

// routeKind is what a request path addresses. classify is the one place a
// path is looked at: the dispatch, the method and token rules, the Observe
// label and the container endpoint all take its answer, so they cannot
// disagree about a path (they did, four classifiers ago: "/" was labelled
// "other" while it was served as the root listing).
type routeKind uint8

const (
	routeUnknown              routeKind = iota // no such path: 404
	routeToken                                 // PUT /latest/api/token
	routeTokenElsewhere                        // the token API under a version or with a trailing slash: 403
	routeRoot                                  // "/"
	routeLatest                                // /latest
	routeMetaData                              // /latest/meta-data
	routeIAM                                   // .../iam
	routeIAMInfo                               // .../iam/info
	routeRoleListing                           // .../iam/security-credentials
	routeExtendedListing                       // .../iam/security-credentials-extended
	routeCredentials                           // .../iam/security-credentials/<role>
	routeExtendedCredentials                   // .../iam/security-credentials-extended/<role>
	routeInstanceID                            // .../instance-id
	routePlacement                             // .../placement
	routeAvailabilityZone                      // .../placement/availability-zone
	routeRegion                                // .../placement/region
	routeDynamic                               // /latest/dynamic
	routeInstanceIdentity                      // .../instance-identity
	routeIdentityDocument                      // .../instance-identity/document
	routeContainerCredentials                  // /v1/credentials: the container endpoint's, 404 on the IMDS
	numRouteKinds
)

// route is a classified request path.
type route struct {
	kind routeKind
	role string // the role segment of the credential routes; empty otherwise
}

// handlerFunc serves one classified request; now is the time the request
// is served at.
type handlerFunc func(s *Server, w http.ResponseWriter, r *http.Request, rt route, now time.Time)

// match says how a routeSpec's path matches a request path.
type match uint8

const (
	matchTrimmed match = iota // the path with its trailing slashes trimmed ("/" for "/", "//"...)
	matchSegment              // path is a prefix; the rest is one non-empty segment, the role
	matchExact                // the path as sent (the container endpoint: path or path + "/")
	matchNone                 // matched by a rule of classify, not by path
)

// routeSpec is one row of the route table.
type routeSpec struct {
	path  string
	match match
	label string // the Observe label: a fixed set, never the path sent
	// tokenAPI routes take every method to their handler (which answers
	// 405 itself); the others are GET and HEAD only and pass the IMDSv2
	// token check first.
	tokenAPI bool
	serve    handlerFunc
}

// routeTable is every path the IMDS knows, indexed by kind: the one table
// classify, dispatch and Observe read. Paths are as the SDKs request them
// (imds-protocol.md §2.1).
var routeTable = [numRouteKinds]routeSpec{
	routeUnknown:              {match: matchNone, label: RouteOther, serve: serveNotFound},
	routeToken:                {path: PathToken, match: matchNone, label: RouteToken, tokenAPI: true, serve: (*Server).handleToken},
	routeTokenElsewhere:       {match: matchNone, label: RouteToken, tokenAPI: true, serve: (*Server).handleToken},
	routeRoot:                 {path: "/", label: RouteMetadata, serve: plain((*Server).handleRoot)},
	routeLatest:               {path: PathLatest, label: RouteMetadata, serve: plain((*Server).handleLatest)},
	routeMetaData:             {path: PathMetaData, label: RouteMetadata, serve: plain((*Server).handleMetaData)},
	routeIAM:                  {path: PathIAM, label: RouteMetadata, serve: plain((*Server).handleIAM)},
	routeIAMInfo:              {path: PathIAMInfo, label: RouteMetadata, serve: plain((*Server).handleIAMInfo)},
	routeRoleListing:          {path: PathSecurityCredentials, label: RouteRoleListing, serve: plain((*Server).handleRoleListing)},
	routeExtendedListing:      {path: PathExtendedCredentials, label: RouteRoleListing, serve: plain((*Server).handleRoleListing)},
	routeCredentials:          {path: prefixCredentials, match: matchSegment, label: RouteCredentials, serve: (*Server).handleCredentials},
	routeExtendedCredentials:  {path: prefixExtended, match: matchSegment, label: RouteCredentials, serve: (*Server).handleCredentials},
	routeInstanceID:           {path: PathInstanceID, label: RouteMetadata, serve: plain((*Server).handleInstanceID)},
	routePlacement:            {path: PathPlacement, label: RouteMetadata, serve: plain((*Server).handlePlacement)},
	routeAvailabilityZone:     {path: PathAvailabilityZone, label: RouteMetadata, serve: plain((*Server).handleAvailabilityZone)},
	routeRegion:               {path: PathRegion, label: RouteMetadata, serve: plain((*Server).handleRegion)},
	routeDynamic:              {path: PathDynamic, label: RouteIdentity, serve: plain((*Server).handleDynamic)},
	routeInstanceIdentity:     {path: PathInstanceIdentity, label: RouteIdentity, serve: plain((*Server).handleInstanceIdentity)},
	routeIdentityDocument:     {path: PathIdentityDocument, label: RouteIdentity, serve: plain((*Server).handleIdentityDocument)},
	routeContainerCredentials: {path: PathContainerCredentials, match: matchExact, label: RouteOther, serve: serveNotFound},
}

// plain adapts a handler that needs neither the route nor the time.
func plain(h func(*Server, http.ResponseWriter, *http.Request)) handlerFunc {
	return func(s *Server, w http.ResponseWriter, r *http.Request, _ route, _ time.Time) { h(s, w, r) }
}

func serveNotFound(_ *Server, w http.ResponseWriter, _ *http.Request, _ route, _ time.Time) {
	writeError(w, http.StatusNotFound)
}

// Path prefixes of the credential documents.
const (
	prefixCredentials = PathSecurityCredentials + "/"
	prefixExtended    = PathExtendedCredentials + "/"
)

// The table's paths by how they match, built from routeTable once.
var (
	trimmedRoutes = map[string]routeKind{}
	segmentRoutes []routeKind
	exactRoutes   = map[string]routeKind{}
)

func init() {
	for k, spec := range routeTable {
		switch kind := routeKind(k); spec.match {
		case matchTrimmed:
			trimmedRoutes[spec.path] = kind
		case matchSegment:
			segmentRoutes = append(segmentRoutes, kind)
		case matchExact:
			exactRoutes[spec.path] = kind
			exactRoutes[spec.path+"/"] = kind
		}
	}
}

// classify returns what path (r.URL.Path, unescaped) addresses:
//
//   - The token API, under any version and with any trailing slashes, is a
//     token route: only PUT /latest/api/token itself is served, the others
//     are 403, as on real IMDS (a trailing slash: aws-beam/aws_credentials#47;
//     a version: "This behavior is intended", EC2 User Guide).
//   - The container endpoint's path, exactly, with or without one slash.
//   - Any other path matches with its trailing slashes trimmed, so that a
//     leaf with a slash (botocore asks for "placement/availability-zone/")
//     and a category without one (the Rust SDK asks for
//     "security-credentials", hologram #114) both resolve.
//   - A credential route's role is one non-empty segment.
//   - Leading slashes count as one: "//latest/api/token" is the token API.
//     The AWS CLI v2 needs AWS_EC2_METADATA_SERVICE_ENDPOINT to end in "/"
//     (its botocore appends "latest/api/token" with no separator), and the
//     AWS SDK for JavaScript v2 joins that same value to "/latest/..."
//     without dropping a slash (aws-sdk lib/metadata_service.js,
//     this.endpoint + path); one machine-wide value serves both only so
//     (issue 16, docs/endpoint.md). Nothing else about the path changes,
//     so no route becomes reachable that was not.
//
// Everything else is routeUnknown. classify allocates nothing.
func classify(path string) route {
	// "//api/token" is the token API under the empty version as sent, so
	// it is tested before the leading slashes collapse.
	elsewhere := isTokenAPI(strings.TrimRight(path, "/"))
	for len(path) > 1 && path[0] == '/' && path[1] == '/' {
		path = path[1:]
	}
	p := strings.TrimRight(path, "/")
	if elsewhere || isTokenAPI(p) {
		if path == PathToken {
			return route{kind: routeToken}
		}
		return route{kind: routeTokenElsewhere}
	}
	if p == "" {
		if path == "" {
			return route{}
		}
		p = "/"
	}
	// The credential documents first: every SDK fetch asks for one.
	for _, k := range segmentRoutes {
		if role, ok := strings.CutPrefix(p, routeTable[k].path); ok {
			if role == "" || strings.IndexByte(role, '/') >= 0 {
				return route{}
			}
			return route{kind: k, role: role}
		}
	}
	if k, ok := trimmedRoutes[p]; ok {
		return route{kind: k}
	}
	if k, ok := exactRoutes[path]; ok {
		return route{kind: k}
	}
	return route{}
}

// isTokenAPI reports whether p, with its trailing slashes trimmed, is
// "/VERSION/api/token".
func isTokenAPI(p string) bool {
	return strings.HasSuffix(p, "/api/token") && strings.Count(p, "/") == 3
}

// label is rt's Observe label.
func (rt route) label() string { return routeTable[rt.kind].label }
