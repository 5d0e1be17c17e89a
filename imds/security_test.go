package imds

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imdsd/imdsd/internal/testproc"
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

// TestServer_RateLimitIsPerClient: a client past its burst gets 429 with
// Retry-After, another client is served as usual meanwhile, and the first
// gets its rate back as the clock moves.
func TestServer_RateLimitIsPerClient(t *testing.T) {
	s, clk := newTestServer(t, Options{
		Source:    staticSource(Role{}, ErrNoRole),
		RateLimit: RateLimit{PerSecond: 10, Burst: 20},
	})
	get := func(remote string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, PathInstanceID, nil)
		r.RemoteAddr = remote
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w
	}
	ok := 0
	for i := 0; i < 100; i++ {
		if get("192.0.2.1:1000").Code == 200 {
			ok++
		}
	}
	if ok != 20 {
		t.Fatalf("noisy client: %d of 100 served at one instant, want the burst, 20", ok)
	}
	w := get("192.0.2.1:1001")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("noisy client over its rate: status %d Retry-After %q, want 429 and 1", w.Code, w.Header().Get("Retry-After"))
	}
	for i := 0; i < 20; i++ {
		if c := get("192.0.2.2:2000").Code; c != 200 {
			t.Fatalf("quiet client request %d while the other is limited: status %d, want 200", i, c)
		}
	}
	clk.Advance(time.Second)
	ok = 0
	for i := 0; i < 100; i++ {
		if get("192.0.2.1:1000").Code == 200 {
			ok++
		}
	}
	if ok != 10 {
		t.Errorf("noisy client 1s later: %d served, want the rate, 10", ok)
	}
	if got := s.SecurityStats().RateLimited; got != 80+1+90 {
		t.Errorf("SecurityStats().RateLimited = %d, want 171", got)
	}
}

func TestRateLimiter_ForgetsIdleClients(t *testing.T) {
	clk := newFakeClock()
	l := newRateLimiter(RateLimit{PerSecond: 10, Burst: 10})
	for i := 0; i < 1000; i++ {
		var b [4]byte
		b[0], b[2], b[3] = 10, byte(i>>8), byte(i)
		if ok, _ := l.allow(clientKey{addr: netip.AddrFrom4(b)}, clk.Now()); !ok {
			t.Fatalf("first request of client %d refused", i)
		}
	}
	clk.Advance(2 * time.Minute)
	l.allow(clientKey{addr: netip.AddrFrom4([4]byte{10, 9, 9, 9})}, clk.Now())
	l.mu.Lock()
	n := len(l.buckets)
	l.mu.Unlock()
	if n != 1 {
		t.Fatalf("buckets after two idle minutes = %d, want 1", n)
	}
}

// TestServer_IdentifyCaller: the hook's uid reaches the Source; a Source
// that cannot identify the caller gets it refused with 403.
func TestServer_IdentifyCaller(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	var seen []Caller
	src := fakeSource{fn: func(_ context.Context, c Caller) (Role, error) {
		mu.Lock()
		seen = append(seen, c)
		mu.Unlock()
		switch {
		case !c.HasUID:
			return Role{}, ErrForbidden
		case c.UID == 1000:
			return Role{Name: "dev", Credentials: testCreds(now)}, nil
		}
		return Role{}, ErrNoRole
	}}
	uid, has := 1000, true
	s, _ := newTestServer(t, Options{Source: src, Now: time.Now, IdentifyCaller: func(c Caller) Caller {
		c.UID, c.HasUID = uid, has
		return c
	}})
	if w := do(s, http.MethodGet, PathSecurityCredentials+"/dev"); w.Code != 200 || !strings.Contains(body(w), `"Success"`) {
		t.Fatalf("uid 1000: status %d, want 200 and a document", w.Code)
	}
	uid = 1001
	if w := do(s, http.MethodGet, PathSecurityCredentials+"/"); w.Code != 404 {
		t.Fatalf("uid 1001 without a rule: status %d, want 404", w.Code)
	}
	has = false
	for _, p := range []string{PathSecurityCredentials + "/", PathSecurityCredentials + "/dev"} {
		if w := do(s, http.MethodGet, p); w.Code != 403 {
			t.Fatalf("unknown uid, GET %s: status %d, want 403", p, w.Code)
		}
	}
	// The token and static paths do not ask the Source.
	mu.Lock()
	before := len(seen)
	mu.Unlock()
	do(s, http.MethodPut, PathToken, HeaderTokenTTL, "60")
	do(s, http.MethodGet, PathInstanceID)
	mu.Lock()
	after := len(seen)
	mu.Unlock()
	if after != before {
		t.Errorf("token PUT and instance-id asked the Source %d times, want 0", after-before)
	}
}

// TestServer_AuditLine: a line for the first credential document served
// to a client, with the client, uid, role and key tail, and nothing
// secret; the same document served again within the window is counted and
// reported in one line when the window ends.
func TestServer_AuditLine(t *testing.T) {
	now := time.Now()
	creds := testCreds(now)
	var buf bytes.Buffer
	uid := 1234
	s, _ := newTestServer(t, Options{
		Source: staticSource(Role{Name: "demo", Credentials: creds}, nil),
		Now:    time.Now,
		Audit:  slog.New(slog.NewTextHandler(&buf, nil)),
		IdentifyCaller: func(c Caller) Caller {
			c.UID, c.HasUID = uid, true
			return c
		},
	})
	var windowEnd func()
	s.audit.after = func(d time.Duration, f func()) {
		if d != auditWindow {
			t.Errorf("audit window %v, want %v", d, auditWindow)
		}
		windowEnd = f
	}
	do(s, http.MethodGet, PathSecurityCredentials+"/")
	do(s, http.MethodGet, PathSecurityCredentials+"/demo")
	do(s, http.MethodGet, PathExtendedCredentials+"/demo")
	do(s, http.MethodGet, PathSecurityCredentials+"/demo")
	do(s, http.MethodGet, PathSecurityCredentials+"/other")
	first := buf.String()
	uid = 99 // another user on the same address: a line of its own at once
	do(s, http.MethodGet, PathSecurityCredentials+"/demo")
	other := strings.TrimPrefix(buf.String(), first)
	if windowEnd == nil {
		t.Fatal("no end of the audit window scheduled")
	}
	windowEnd()
	repeats := strings.TrimPrefix(buf.String(), first+other)

	check := func(what, got string, want ...string) {
		t.Helper()
		lines := strings.Split(strings.TrimSpace(got), "\n")
		if len(lines) != 1 {
			t.Fatalf("%s: %d audit lines, want 1:\n%s", what, len(lines), got)
		}
		for _, w := range want {
			if !strings.Contains(lines[0], w) {
				t.Errorf("%s: audit line %q lacks %q", what, lines[0], w)
			}
		}
		for _, secret := range []string{creds.SecretAccessKey, creds.SessionToken, creds.AccessKeyID} {
			if strings.Contains(lines[0], secret) {
				t.Errorf("%s: audit line carries a secret or the full key id: %q", what, lines[0])
			}
		}
	}
	check("first document", first, `msg="credentials served"`, "client=192.0.2.1:1234", "uid=1234", "role=demo", "access_key=…Y123", "time=")
	check("another uid", other, `msg="credentials served"`, "uid=99")
	// The uid is the caller: the window's count is the uid's, from any
	// address (issue 15 item 7), and names no address.
	check("end of the window", repeats, `msg="credentials served again"`, "uid=1234", "role=demo", "access_key=…Y123", "times=2", "within=10s")

	// A new window logs the first document again.
	buf.Reset()
	uid = 1234
	do(s, http.MethodGet, PathSecurityCredentials+"/demo")
	check("next window", buf.String(), `msg="credentials served"`, "uid=1234")

	// A container the Source identified is named instead of a uid.
	buf.Reset()
	sc, _ := newTestServer(t, Options{
		Source: staticSource(Role{Name: "demo", Credentials: creds, Container: "web-1"}, nil),
		Now:    time.Now,
		Audit:  slog.New(slog.NewTextHandler(&buf, nil)),
	})
	do(sc, http.MethodGet, PathSecurityCredentials+"/demo")
	if !strings.Contains(buf.String(), "container=web-1") || strings.Contains(buf.String(), "uid=") {
		t.Errorf("audit line for a container: %q, want container=web-1 and no uid", buf.String())
	}
}

// TestServer_AuditCountsFlushedOnStop: the counts of the last window are
// written when Run ends, not lost.
func TestServer_AuditCountsFlushedOnStop(t *testing.T) {
	creds := testCreds(time.Now())
	var buf testproc.Buffer
	s, _ := newTestServer(t, Options{
		Source: staticSource(Role{Name: "demo", Credentials: creds}, nil),
		Now:    time.Now,
		Audit:  slog.New(slog.NewTextHandler(&buf, nil)),
	})
	s.audit.after = func(time.Duration, func()) {} // the window never ends by itself
	addr, stop := runServer(t, s)
	url := "http://" + addr + PathSecurityCredentials + "/demo"
	for i := 0; i < 3; i++ {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); !strings.Contains(got, `msg="credentials served again"`) || !strings.Contains(got, "times=2") {
		t.Fatalf("after Run ended, audit log = %q; want the last window's count (times=2)", got)
	}
}

func TestNew_HopLimitRange(t *testing.T) {
	_, err := New(Options{Source: staticSource(Role{}, ErrNoRole), Region: "eu-west-1", HopLimit: 256})
	if err == nil {
		t.Fatal("HopLimit 256 accepted, want an error")
	}
	if HopLimitSupported {
		return
	}
	_, err = New(Options{Source: staticSource(Role{}, ErrNoRole), Region: "eu-west-1", HopLimit: 1})
	if !errors.Is(err, ErrHopLimitUnsupported) {
		t.Fatalf("HopLimit on this OS: %v, want ErrHopLimitUnsupported", err)
	}
}

// BenchmarkServer_Hardened measures the credential GET and the token PUT
// with every check of security.go and limits.go on, as cmd/imdsd runs
// them: Host allowlist, browser signals, per-client rate limit, and (in
// the audit case) one audit line to a discarding handler.
func BenchmarkServer_Hardened(b *testing.B) {
	for _, audit := range []bool{false, true} {
		name := "noaudit"
		if audit {
			name = "audit"
		}
		b.Run(name, func(b *testing.B) {
			now := time.Now()
			role := Role{Name: benchRole, Credentials: benchCredsFor(now)}
			opts := Options{
				Source:       SourceFunc(func(context.Context, Caller) (Role, error) { return role, nil }),
				Region:       "eu-west-1",
				Logger:       slog.New(slog.DiscardHandler),
				AllowedHosts: DefaultAllowedHosts,
				RateLimit:    RateLimit{PerSecond: 1e9, Burst: 1e9},
			}
			if audit {
				opts.Audit = slog.New(slog.NewTextHandler(io.Discard, nil))
			}
			s, err := New(opts)
			if err != nil {
				b.Fatal(err)
			}
			tok := s.tokens.issue(6 * time.Hour)
			b.Run("credentials", func(b *testing.B) {
				r := benchRequest(http.MethodGet, PathSecurityCredentials+"/"+benchRole, HeaderToken, tok)
				r.Host = "169.254.169.254"
				benchServe(b, s, r)
			})
			b.Run("token", func(b *testing.B) {
				r := benchRequest(http.MethodPut, PathToken, HeaderTokenTTL, "21600")
				r.Host = "169.254.169.254"
				benchServe(b, s, r)
			})
		})
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
