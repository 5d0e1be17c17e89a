package imds

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// classifyCases is every documented path (imds-protocol.md §2.1, §1.1,
// §4), with and without trailing slashes, under other versions, and paths
// that are not served. TestClassify checks the classification and
// TestServer_RouteAgreement that the served answer and the Observe label
// follow it.
var classifyCases = []struct {
	path string
	want route
}{
	// The token API: only the exact path is served; any version or
	// trailing slash is the token route answered 403.
	{PathToken, route{kind: routeToken}},
	{PathToken + "/", route{kind: routeTokenElsewhere}},
	{PathToken + "//", route{kind: routeTokenElsewhere}},
	{"/2021-03-23/api/token", route{kind: routeTokenElsewhere}},
	{"/2021-03-23/api/token/", route{kind: routeTokenElsewhere}},
	{"//api/token", route{kind: routeTokenElsewhere}},
	{"/a/b/api/token", route{}},
	{"/latest/api/tokens", route{}},
	{"/latest/api", route{}},

	// Listings.
	{"/", route{kind: routeRoot}},
	{"//", route{kind: routeRoot}},
	{"", route{}},
	{PathLatest, route{kind: routeLatest}},
	{PathLatest + "/", route{kind: routeLatest}},
	{PathMetaData, route{kind: routeMetaData}},
	{PathMetaData + "/", route{kind: routeMetaData}},
	{PathIAM, route{kind: routeIAM}},
	{PathIAM + "/", route{kind: routeIAM}},
	{PathIAMInfo, route{kind: routeIAMInfo}},
	{PathIAMInfo + "/", route{kind: routeIAMInfo}},

	// The role listing: with the slash every SDK sends, and without
	// (the Rust SDK, hologram #114).
	{PathSecurityCredentials + "/", route{kind: routeRoleListing}},
	{PathSecurityCredentials, route{kind: routeRoleListing}},
	{PathSecurityCredentials + "//", route{kind: routeRoleListing}},
	{PathExtendedCredentials + "/", route{kind: routeExtendedListing}},
	{PathExtendedCredentials, route{kind: routeExtendedListing}},

	// Credential documents: the role is one non-empty segment.
	{PathSecurityCredentials + "/demo", route{kind: routeCredentials, role: "demo"}},
	{PathSecurityCredentials + "/demo/", route{kind: routeCredentials, role: "demo"}},
	{PathSecurityCredentials + "/other", route{kind: routeCredentials, role: "other"}},
	{PathSecurityCredentials + "/a=b,c.d@e-f+g_h", route{kind: routeCredentials, role: "a=b,c.d@e-f+g_h"}},
	{PathExtendedCredentials + "/demo", route{kind: routeExtendedCredentials, role: "demo"}},
	{PathExtendedCredentials + "/demo//", route{kind: routeExtendedCredentials, role: "demo"}},
	{PathSecurityCredentials + "/demo/x", route{}},
	{PathSecurityCredentials + "//demo", route{}},
	{PathIAM + "/security-credentialsX", route{}},
	{PathIAM + "/security-credentials-extendedX/demo", route{}},

	// Leaves; botocore asks for the zone with a trailing slash.
	{PathInstanceID, route{kind: routeInstanceID}},
	{PathInstanceID + "/", route{kind: routeInstanceID}},
	{PathPlacement, route{kind: routePlacement}},
	{PathPlacement + "/", route{kind: routePlacement}},
	{PathAvailabilityZone, route{kind: routeAvailabilityZone}},
	{PathAvailabilityZone + "/", route{kind: routeAvailabilityZone}},
	{PathRegion, route{kind: routeRegion}},
	{PathRegion + "/", route{kind: routeRegion}},
	{PathDynamic, route{kind: routeDynamic}},
	{PathDynamic + "/", route{kind: routeDynamic}},
	{PathInstanceIdentity, route{kind: routeInstanceIdentity}},
	{PathInstanceIdentity + "/", route{kind: routeInstanceIdentity}},
	{PathIdentityDocument, route{kind: routeIdentityDocument}},
	{PathIdentityDocument + "/", route{kind: routeIdentityDocument}},

	// Only "latest" is served; dated versions and other spellings are not.
	{"/2021-03-23/meta-data/instance-id", route{}},
	{"/2021-03-23/", route{}},
	{"/LATEST/meta-data", route{}},
	{"/latest/meta-data/ami-id", route{}},
	{"/latest/dynamicX", route{}},
	{"/latest/dynamic/instance-identity/pkcs7", route{}},
	{"/something/else", route{}},

	// The container endpoint's path: exactly, with at most one slash.
	{PathContainerCredentials, route{kind: routeContainerCredentials}},
	{PathContainerCredentials + "/", route{kind: routeContainerCredentials}},
	{PathContainerCredentials + "//", route{}},
	{"/v1", route{}},
	{"/v2/credentials", route{}},
}

func TestClassify(t *testing.T) {
	for _, tc := range classifyCases {
		t.Run(tc.path, func(t *testing.T) {
			if got := classify(tc.path); got != tc.want {
				t.Fatalf("classify(%q) = %+v, want %+v", tc.path, got, tc.want)
			}
		})
	}
}

// TestRouteTable: every kind has a row with a handler and a label, and
// every path in the table classifies to its own row (the table and the
// classifier are one).
func TestRouteTable(t *testing.T) {
	labels := map[string]bool{RouteToken: true, RouteRoleListing: true, RouteCredentials: true, RouteIdentity: true, RouteMetadata: true, RouteOther: true}
	for k, spec := range routeTable {
		kind := routeKind(k)
		if spec.serve == nil || !labels[spec.label] || spec.label != routeLabel(kind) {
			t.Errorf("kind %d: handler set %v, label %q; want a handler and label %q", k, spec.serve != nil, spec.label, routeLabel(kind))
		}
		var paths []string
		switch spec.match {
		case matchTrimmed, matchExact:
			paths = []string{spec.path, spec.path + "/"}
		case matchSegment:
			paths = []string{spec.path + "r", spec.path + "r/"}
		}
		for _, p := range paths {
			if got := classify(p); got.kind != kind {
				t.Errorf("classify(%q) = kind %d, want %d (its own row)", p, got.kind, kind)
			}
		}
	}
	// Every kind but the unknown one appears in classifyCases.
	seen := map[routeKind]bool{}
	for _, tc := range classifyCases {
		seen[tc.want.kind] = true
	}
	for k := range numRouteKinds {
		if !seen[k] {
			t.Errorf("kind %d has no case in classifyCases", k)
		}
	}
}

// routeLabel is the Observe label of each kind, as the metrics document
// them (docs/config.md): the test's own statement, not the table's.
func routeLabel(k routeKind) string {
	switch k {
	case routeToken, routeTokenElsewhere:
		return RouteToken
	case routeRoleListing, routeExtendedListing:
		return RouteRoleListing
	case routeCredentials, routeExtendedCredentials:
		return RouteCredentials
	case routeDynamic, routeInstanceIdentity, routeIdentityDocument:
		return RouteIdentity
	case routeRoot, routeLatest, routeMetaData, routeIAM, routeIAMInfo,
		routeInstanceID, routePlacement, routeAvailabilityZone, routeRegion:
		return RouteMetadata
	}
	return RouteOther // not served by the IMDS
}

// routeAnswer is what the IMDS answers to a GET (a PUT with a TTL on the
// token API) on a path of each kind, role "demo" being the caller's: the
// test's own statement of the route table, to check the dispatch against.
func routeAnswer(rt route) (status int, body string) {
	switch rt.kind {
	case routeToken:
		return 200, "<token>"
	case routeTokenElsewhere:
		return 403, ""
	case routeRoot:
		return 200, "latest"
	case routeLatest:
		return 200, "dynamic\nmeta-data"
	case routeMetaData:
		return 200, "iam/\ninstance-id\nplacement/"
	case routeIAM:
		return 200, "info\nsecurity-credentials/"
	case routeIAMInfo:
		return 200, `"InstanceProfileArn"`
	case routeRoleListing, routeExtendedListing:
		return 200, benchRole
	case routeCredentials, routeExtendedCredentials:
		if rt.role != benchRole {
			return 404, ""
		}
		if rt.kind == routeExtendedCredentials {
			return 200, `"AccountId"`
		}
		return 200, `"AccessKeyId"`
	case routeInstanceID:
		return 200, "i-0123456789abcdef0"
	case routePlacement:
		return 200, "availability-zone\nregion"
	case routeAvailabilityZone:
		return 200, "eu-west-1a"
	case routeRegion:
		return 200, "eu-west-1"
	case routeDynamic:
		return 200, "instance-identity/"
	case routeInstanceIdentity:
		return 200, "document"
	case routeIdentityDocument:
		return 200, `"instanceId"`
	}
	return 404, "" // routeUnknown; the container path is not the IMDS's
}

// TestServer_RouteAgreement: for every path of classifyCases, the server
// answers what the path's kind is served with (routeAnswer), and Observe
// labels the request with that kind's label (routeLabel): router and
// metrics agree, and both agree with the cases.
func TestServer_RouteAgreement(t *testing.T) {
	var observed []string
	s, _ := newTestServer(t, Options{
		Source:  staticSource(Role{Name: benchRole, Credentials: testCreds(time.Now())}, nil),
		Now:     time.Now,
		Observe: func(route string, _ int, _ time.Duration) { observed = append(observed, route) },
	})
	for _, tc := range classifyCases {
		t.Run(tc.path, func(t *testing.T) {
			method, header := http.MethodGet, []string(nil)
			if routeTable[tc.want.kind].tokenAPI {
				method, header = http.MethodPut, []string{HeaderTokenTTL, "60"}
			}
			r := benchRequest(method, "/", header...)
			r.URL.Path = tc.path // "" and "//" as net/http can hand them over
			w := httptest.NewRecorder()
			observed = observed[:0]
			s.ServeHTTP(w, r)

			wantStatus, wantBody := routeAnswer(tc.want)
			if w.Code != wantStatus {
				t.Errorf("%s %q: status %d, want %d", method, tc.path, w.Code, wantStatus)
			}
			switch got := w.Body.String(); {
			case wantBody == "<token>":
				if len(got) != tokenLen {
					t.Errorf("%s %q: body %q, want a token", method, tc.path, got)
				}
			case wantStatus == 200 && !strings.Contains(got, wantBody):
				t.Errorf("%s %q: body %q, want it to hold %q", method, tc.path, got, wantBody)
			}
			if want := routeLabel(tc.want.kind); len(observed) != 1 || observed[0] != want {
				t.Errorf("%s %q: observed %q, want one %q", method, tc.path, observed, want)
			}
		})
	}
}

// TestContainerHandler_RouteAgreement: the container endpoint serves
// exactly the paths classified as its own, over the same cases.
func TestContainerHandler_RouteAgreement(t *testing.T) {
	h, err := NewContainerHandler(ContainerOptions{
		Source: staticSource(Role{Name: benchRole, Credentials: testCreds(time.Now())}, nil),
		Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range classifyCases {
		r := benchRequest(http.MethodGet, "/")
		r.URL.Path = tc.path
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		want := http.StatusNotFound
		if tc.want.kind == routeContainerCredentials {
			want = http.StatusOK
		}
		if w.Code != want {
			t.Errorf("container endpoint GET %q: status %d, want %d", tc.path, w.Code, want)
		}
	}
}

// FuzzClassify: any path classifies without panic; a role is one
// non-empty segment; and appending a slash to a metadata path does not
// change what it addresses (the token API and the container path, whose
// slashes matter, aside).
func FuzzClassify(f *testing.F) {
	for _, tc := range classifyCases {
		f.Add(tc.path)
	}
	f.Fuzz(func(t *testing.T, p string) {
		rt := classify(p)
		if rt.kind >= numRouteKinds {
			t.Fatalf("classify(%q) = kind %d, out of the table", p, rt.kind)
		}
		isCred := rt.kind == routeCredentials || rt.kind == routeExtendedCredentials
		if isCred != (rt.role != "") || strings.Contains(rt.role, "/") {
			t.Fatalf("classify(%q) = %+v: role must be one segment, on credential routes only", p, rt)
		}
		if m := routeTable[rt.kind].match; p != "" && (m == matchTrimmed || m == matchSegment) {
			if again := classify(p + "/"); again != rt {
				t.Fatalf("classify(%q) = %+v but classify(%q) = %+v", p, rt, p+"/", again)
			}
		}
	})
}

var sinkRoute route

// BenchmarkClassify is the classifier alone, on the paths of an SDK's
// credential fetch and a static leaf.
func BenchmarkClassify(b *testing.B) {
	for _, p := range []string{PathToken, PathSecurityCredentials + "/", PathSecurityCredentials + "/" + benchRole, PathInstanceID} {
		b.Run(strings.TrimPrefix(p, PathMetaData), func(b *testing.B) {
			for b.Loop() {
				sinkRoute = classify(p)
			}
		})
	}
}
