package imds

import (
	"github.com/imdsd/imdsd/internal/testutil"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestServer_Token(t *testing.T) {
	s, _ := newTestServer(t, Options{Source: staticSource(Role{Name: "r"}, nil)})
	tests := []struct {
		name      string
		method    string
		path      string
		headers   []string
		wantCode  int
		wantTTL   string
		wantAllow string
	}{
		{"min ttl", http.MethodPut, PathToken, []string{HeaderTokenTTL, "1"}, 200, "1", ""},
		{"max ttl", http.MethodPut, PathToken, []string{HeaderTokenTTL, "21600"}, 200, "21600", ""},
		{"go sdk ttl", http.MethodPut, PathToken, []string{HeaderTokenTTL, "300"}, 200, "300", ""},
		{"lower-case header name", http.MethodPut, PathToken, []string{"x-aws-ec2-metadata-token-ttl-seconds", "60"}, 200, "60", ""},
		{"ttl zero", http.MethodPut, PathToken, []string{HeaderTokenTTL, "0"}, 400, "", ""},
		{"ttl negative", http.MethodPut, PathToken, []string{HeaderTokenTTL, "-5"}, 400, "", ""},
		{"ttl too large", http.MethodPut, PathToken, []string{HeaderTokenTTL, "21601"}, 400, "", ""},
		{"ttl overflow", http.MethodPut, PathToken, []string{HeaderTokenTTL, "99999999999999999999"}, 400, "", ""},
		{"ttl not integer", http.MethodPut, PathToken, []string{HeaderTokenTTL, "1.5"}, 400, "", ""},
		{"ttl with space", http.MethodPut, PathToken, []string{HeaderTokenTTL, " 60"}, 400, "", ""},
		// Decimal as the SDKs send it: no sign, no leading zero, at most
		// five digits (issue 15 item 10; strconv.ParseInt took all three).
		{"ttl with plus sign", http.MethodPut, PathToken, []string{HeaderTokenTTL, "+60"}, 400, "", ""},
		{"ttl with leading zero", http.MethodPut, PathToken, []string{HeaderTokenTTL, "060"}, 400, "", ""},
		{"ttl with leading zeros, five digits", http.MethodPut, PathToken, []string{HeaderTokenTTL, "00060"}, 400, "", ""},
		{"ttl of six digits", http.MethodPut, PathToken, []string{HeaderTokenTTL, "021600"}, 400, "", ""},
		{"ttl hexadecimal", http.MethodPut, PathToken, []string{HeaderTokenTTL, "0x3c"}, 400, "", ""},
		{"ttl with underscore", http.MethodPut, PathToken, []string{HeaderTokenTTL, "2_1"}, 400, "", ""},
		{"ttl missing", http.MethodPut, PathToken, nil, 400, "", ""},
		{"x-forwarded-for", http.MethodPut, PathToken, []string{HeaderTokenTTL, "60", "X-Forwarded-For", "10.0.0.1"}, 403, "", ""},
		{"trailing slash", http.MethodPut, PathToken + "/", []string{HeaderTokenTTL, "60"}, 403, "", ""},
		{"dated version", http.MethodPut, "/2021-03-23/api/token", []string{HeaderTokenTTL, "60"}, 403, "", ""},
		{"get on token path", http.MethodGet, PathToken, []string{HeaderTokenTTL, "60"}, 405, "", "PUT"},
		{"post on token path", http.MethodPost, PathToken, []string{HeaderTokenTTL, "60"}, 405, "", "PUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(s, tt.method, tt.path, tt.headers...)
			if w.Code != tt.wantCode {
				t.Fatalf("status = %d, want %d", w.Code, tt.wantCode)
			}
			if got := w.Header().Get(HeaderTokenTTL); got != tt.wantTTL {
				t.Errorf("TTL header = %q, want %q", got, tt.wantTTL)
			}
			if got := w.Header().Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
			if got := w.Header().Get("Server"); got != "EC2ws" {
				t.Errorf("Server = %q, want EC2ws", got)
			}
			if tt.wantCode == 200 {
				if got := body(w); len(got) != tokenLen || strings.ContainsAny(got, "\n ") {
					t.Errorf("token body = %q, want a bare %d-character token", got, tokenLen)
				}
				if got := w.Header().Get("Content-Type"); got != "text/plain" {
					t.Errorf("Content-Type = %q, want text/plain", got)
				}
			}
		})
	}
}

func TestServer_TokenValidation(t *testing.T) {
	role := Role{Name: "r", Credentials: testCreds(time.Now())}
	tests := []struct {
		name     string
		required bool
		token    func(s *Server, clk *testutil.Clock) (string, bool) // token, send it
		wantCode int
	}{
		{"optional, no token", false, func(*Server, *testutil.Clock) (string, bool) { return "", false }, 200},
		{"required, no token", true, func(*Server, *testutil.Clock) (string, bool) { return "", false }, 401},
		{"required, valid token", true, func(s *Server, _ *testutil.Clock) (string, bool) { return token(t, s, "60"), true }, 200},
		{"optional, garbage token", false, func(*Server, *testutil.Clock) (string, bool) { return "garbage", true }, 401},
		{"optional, empty token", false, func(*Server, *testutil.Clock) (string, bool) { return "", true }, 401},
		{"required, token of another server", true, func(*Server, *testutil.Clock) (string, bool) {
			other, _ := newTestServer(t, Options{Source: staticSource(role, nil)})
			return token(t, other, "60"), true
		}, 401},
		{"required, tampered token", true, func(s *Server, _ *testutil.Clock) (string, bool) {
			tok := []byte(token(t, s, "60"))
			tok[2] ^= 1 // flip a bit of the expiry
			return string(tok), true
		}, 401},
		{"required, expired token", true, func(s *Server, clk *testutil.Clock) (string, bool) {
			tok := token(t, s, "60")
			clk.Advance(60 * time.Second)
			return tok, true
		}, 401},
		{"required, token one second before expiry", true, func(s *Server, clk *testutil.Clock) (string, bool) {
			tok := token(t, s, "60")
			clk.Advance(59 * time.Second)
			return tok, true
		}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			role.Credentials = testCreds(clk.Now())
			s, _ := newTestServer(t, Options{Source: staticSource(role, nil), TokenRequired: tt.required, Now: clk.Now})
			tok, send := tt.token(s, clk)
			var h []string
			if send {
				h = []string{HeaderToken, tok}
			}
			for _, p := range []string{PathSecurityCredentials + "/", PathInstanceID, "/latest/meta-data/does-not-exist"} {
				want := tt.wantCode
				if want == 200 && strings.Contains(p, "does-not-exist") {
					want = 404
				}
				w := do(s, http.MethodGet, p, h...)
				if w.Code != want {
					t.Errorf("GET %s: status = %d, want %d", p, w.Code, want)
				}
			}
		})
	}
}

func TestTokenSigner_WallClockJumps(t *testing.T) {
	// Token lifetimes run on the signer's own clock readings; with the real
	// clock these carry a monotonic reading, so a wall-clock jump neither
	// extends nor cuts a token. Here: a token issued and checked at once is
	// valid, and no token outlives its TTL on the fake clock.
	clk := newFakeClock()
	s, err := newTokenSigner(clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	tok := s.issue(MinTokenTTL)
	if err := s.check(tok, s.now()); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	clk.Advance(MinTokenTTL)
	if err := s.check(tok, s.now()); err != errTokenExpired {
		t.Fatalf("token after its TTL: err = %v, want %v", err, errTokenExpired)
	}
}

func TestTokenSigner_Unique(t *testing.T) {
	s, err := newTokenSigner(time.Now)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 1000 {
		tok := s.issue(time.Minute)
		if seen[tok] {
			t.Fatalf("token %q issued twice", tok)
		}
		seen[tok] = true
	}
}

func TestTokenSigner_CheckedCache(t *testing.T) {
	clk := newFakeClock()
	s, err := newTokenSigner(clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	good := s.issue(time.Hour)
	if err := s.check(good, clk.Now()); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	slot := &s.checked[checkedSlot(good)]
	if c := slot.Load(); c == nil || c.tok != good {
		t.Fatal("a token that passed is not remembered")
	}
	// A forgery sharing the good token's slot (same last characters, so
	// the same cache slot) but differing anywhere else is refused, and
	// leaves the good token in place.
	for _, i := range []int{0, tokenLen / 2, tokenLen - 5} {
		b := []byte(good)
		b[i] ^= 1 // stays in the base64url alphabet for letters and digits
		if b[i] == good[i] {
			t.Fatal("forgery equals the token")
		}
		forged := string(b)
		if checkedSlot(forged) != checkedSlot(good) {
			t.Fatalf("forgery at %d landed in another slot", i)
		}
		if err := s.check(forged, clk.Now()); err == nil {
			t.Fatalf("forgery (character %d changed) accepted", i)
		}
		if c := slot.Load(); c == nil || c.tok != good {
			t.Fatalf("forgery (character %d changed) pushed the good token out", i)
		}
	}
	// The remembered token still expires.
	clk.Advance(time.Hour)
	if err := s.check(good, clk.Now()); err != errTokenExpired {
		t.Fatalf("remembered token after its TTL: err = %v, want %v", err, errTokenExpired)
	}
}

func TestSameToken(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"abc", "xbc", false},
		{"abc", "ab", false},
		{"", "", true},
	} {
		if got := sameToken(tc.a, tc.b); got != tc.want {
			t.Errorf("sameToken(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
