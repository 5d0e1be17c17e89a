package imds

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// hostRequest builds a request with the given Host that arrived on local.
func hostRequest(method, path, host, local string) *http.Request {
	r := httptest.NewRequest(method, path, nil)
	r.Host = host
	if local != "" {
		addr, err := net.ResolveTCPAddr("tcp", local)
		if err != nil {
			panic(err)
		}
		r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, addr))
	}
	return r
}

func TestServer_HostAllowlist(t *testing.T) {
	now := time.Now()
	src := staticSource(Role{Name: "demo", Credentials: testCreds(now)}, nil)
	s, _ := newTestServer(t, Options{Source: src, Now: time.Now, AllowedHosts: DefaultAllowedHosts})
	for _, tc := range []struct {
		host, local string
		want        int
	}{
		{"169.254.169.254", "127.0.0.1:9254", 200},
		{"169.254.169.254:80", "127.0.0.1:9254", 200},
		{"[fd00:ec2::254]", "[::1]:9254", 200},
		{"[fd00:ec2::254]:80", "[::1]:9254", 200},
		{"127.0.0.1:9254", "127.0.0.1:9254", 200},
		{"[::1]:9254", "[::1]:9254", 200},
		{"localhost:9254", "127.0.0.1:9254", 200},
		{"LOCALHOST", "127.0.0.1:9254", 200},
		{"host.docker.internal:9254", "172.17.0.1:9254", 200},
		{"169.254.170.2", "172.17.0.1:9254", 200},
		// The address the connection arrived on (a bridge address) is
		// allowed without configuration.
		{"172.17.0.1:9254", "172.17.0.1:9254", 200},
		{"[::ffff:127.0.0.1]:9254", "127.0.0.1:9254", 200},
		// DNS rebinding: an attacker's name resolving to loopback.
		{"evil.example:9254", "127.0.0.1:9254", 403},
		{"evil.example", "127.0.0.1:9254", 403},
		{"localhost.evil.example", "127.0.0.1:9254", 403},
		{"169.254.169.254.nip.io", "127.0.0.1:9254", 403},
		// Another machine's address; odd spellings of allowed ones.
		{"10.0.0.9", "127.0.0.1:9254", 403},
		{"172.17.0.1", "127.0.0.1:9254", 403},
		{"localhost.", "127.0.0.1:9254", 403},
		{"0x7f000001", "127.0.0.1:9254", 403},
		{"2130706433", "127.0.0.1:9254", 403},
		{"::1", "[::1]:9254", 403},
		{"[::1", "[::1]:9254", 403},
		{"[127.0.0.1]", "127.0.0.1:9254", 403},
		{"[fe80::1%25lo]", "[::1]:9254", 403},
		{"127.0.0.1:", "127.0.0.1:9254", 403},
		{"127.0.0.1:http", "127.0.0.1:9254", 403},
		{"127.0.0.1:123456", "127.0.0.1:9254", 403},
		// A port is decimal 1..65535 (issue 15 item 10: five digits
		// passed whatever their value).
		{"[::1]:99999", "[::1]:9254", 403},
		{"127.0.0.1:65536", "127.0.0.1:9254", 403},
		{"127.0.0.1:0", "127.0.0.1:9254", 403},
		{"127.0.0.1:00000", "127.0.0.1:9254", 403},
		{"[::1]:-1", "[::1]:9254", 403},
		{"127.0.0.1:65535", "127.0.0.1:9254", 200},
		{"[::1]:1", "[::1]:9254", 200},
		{"", "127.0.0.1:9254", 403},
	} {
		for _, req := range []struct{ method, path string }{
			{http.MethodGet, PathSecurityCredentials + "/demo"},
			{http.MethodPut, PathToken},
			{http.MethodGet, "/no/such/path"},
		} {
			r := hostRequest(req.method, req.path, tc.host, tc.local)
			r.Header.Set(HeaderTokenTTL, "60")
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			want := tc.want
			if want == 200 && req.path == "/no/such/path" {
				want = 404
			}
			if w.Code != want {
				t.Errorf("%s %s Host %q on %s: status %d, want %d", req.method, req.path, tc.host, tc.local, w.Code, want)
			}
		}
	}
	if got := s.SecurityStats().BadHost; got == 0 {
		t.Errorf("SecurityStats().BadHost = 0, want the refusals counted")
	}
}

func TestServer_HostCheckOffWithoutAllowlist(t *testing.T) {
	s, _ := newTestServer(t, Options{Source: staticSource(Role{}, ErrNoRole)})
	if w := do(s, http.MethodGet, PathInstanceID); w.Code != 200 {
		t.Fatalf("Host example.com without AllowedHosts: status %d, want 200", w.Code)
	}
}

func TestServer_BrowserSignalsRefused(t *testing.T) {
	now := time.Now()
	src := staticSource(Role{Name: "demo", Credentials: testCreds(now)}, nil)
	s, _ := newTestServer(t, Options{Source: src, Now: time.Now, AllowedHosts: DefaultAllowedHosts})
	for _, h := range [][2]string{
		{"Origin", "http://evil.example"},
		{"Origin", "null"},
		{"Referer", "http://evil.example/page"},
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Mode", "no-cors"},
		{"Sec-Fetch-Dest", "empty"},
		{"Sec-Fetch-User", "?1"},
	} {
		for _, req := range []struct{ method, path string }{
			{http.MethodGet, PathSecurityCredentials + "/demo"},
			{http.MethodGet, PathSecurityCredentials + "/"},
			{http.MethodPut, PathToken},
			{http.MethodOptions, PathSecurityCredentials + "/demo"}, // CORS preflight
			{http.MethodPost, PathToken},
		} {
			r := hostRequest(req.method, req.path, "169.254.169.254", "127.0.0.1:80")
			r.Header.Set(HeaderTokenTTL, "60")
			r.Header.Set(h[0], h[1])
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != http.StatusForbidden {
				t.Errorf("%s %s with %s: status %d, want 403", req.method, req.path, h[0], w.Code)
			}
			if strings.Contains(w.Body.String(), "Secret") {
				t.Errorf("%s %s with %s: body carries credentials", req.method, req.path, h[0])
			}
		}
	}
}

// TestServer_NoCORSHeaders: no response, whatever was asked, carries an
// Access-Control-* header, so a browser can never read an answer.
func TestServer_NoCORSHeaders(t *testing.T) {
	now := time.Now()
	src := staticSource(Role{Name: "demo", Credentials: testCreds(now)}, nil)
	s, _ := newTestServer(t, Options{Source: src, Now: time.Now, AllowedHosts: DefaultAllowedHosts})
	for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodOptions, http.MethodPost} {
		for _, path := range []string{"/", PathToken, PathSecurityCredentials + "/demo", PathIdentityDocument} {
			for _, origin := range []string{"", "http://evil.example"} {
				r := hostRequest(method, path, "169.254.169.254", "127.0.0.1:80")
				r.Header.Set(HeaderTokenTTL, "60")
				r.Header.Set("Access-Control-Request-Method", "GET")
				if origin != "" {
					r.Header.Set("Origin", origin)
				}
				w := httptest.NewRecorder()
				s.ServeHTTP(w, r)
				for k := range w.Header() {
					if strings.HasPrefix(strings.ToLower(k), "access-control-") {
						t.Errorf("%s %s (origin %q): response header %s sent", method, path, origin, k)
					}
				}
			}
		}
	}
}

func TestServer_ForwardedTokenRequestRefused(t *testing.T) {
	s, _ := newTestServer(t, Options{Source: staticSource(Role{}, ErrNoRole), AllowedHosts: DefaultAllowedHosts})
	r := hostRequest(http.MethodPut, PathToken, "169.254.169.254", "127.0.0.1:80")
	r.Header.Set(HeaderTokenTTL, "60")
	r.Header.Set(HeaderXForwardedFor, "203.0.113.7")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden {
		t.Fatalf("token PUT with X-Forwarded-For: status %d, want 403", w.Code)
	}
}

// TestServer_GuardAppliesTheChecks: a handler behind Guard gets the Host
// allowlist and the browser check.
func TestServer_GuardAppliesTheChecks(t *testing.T) {
	s, _ := newTestServer(t, Options{Source: staticSource(Role{}, ErrNoRole), AllowedHosts: DefaultAllowedHosts})
	h := s.Guard(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(299) }))
	for _, tc := range []struct {
		host, header string
		want         int
	}{
		{"169.254.170.2", "", 299},
		{"127.0.0.1:9255", "", 299},
		{"evil.example", "", 403},
		{"169.254.170.2", "Origin", 403},
	} {
		r := hostRequest(http.MethodGet, PathContainerCredentials, tc.host, "127.0.0.1:9255")
		if tc.header != "" {
			r.Header.Set(tc.header, "http://evil.example")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("Host %q %s: status %d, want %d", tc.host, tc.header, w.Code, tc.want)
		}
	}
}
