package imds

// Fuzz targets (scripts/fuzz.sh runs each for 30 s; the seeds in
// testdata/fuzz/ run with every go test):
//
//	go test -run '^$' -fuzz FuzzServer_RawRequest ./imds/
//
// Each checks invariants that hold for any input, not just "no panic".

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fuzzStatuses are the only statuses the IMDS handler may answer with a
// healthy source: no 5xx.
var fuzzStatuses = map[int]bool{200: true, 400: true, 401: true, 403: true, 404: true, 405: true, 429: true}

// FuzzServer_RawRequest feeds arbitrary bytes to net/http's request parser
// and, when it yields a request, to the hardened handler (Host allowlist,
// rate limit, token required or not) as net/http would.
func FuzzServer_RawRequest(f *testing.F) {
	for _, seed := range []string{
		"GET /latest/meta-data/iam/security-credentials/demo HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n",
		"PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\n\r\n",
		"GET /latest/meta-data/ HTTP/1.1\r\nHost: evil.example\r\n\r\n",
		"GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\nHost: 127.0.0.1:9254\r\nOrigin: http://evil.example\r\n\r\n",
		"OPTIONS /latest/api/token HTTP/1.1\r\nHost: localhost\r\nAccess-Control-Request-Method: PUT\r\nSec-Fetch-Mode: cors\r\n\r\n",
		"PUT /latest/api/token/ HTTP/1.1\r\nHost: [::1]:9254\r\nX-Forwarded-For: 1.2.3.4\r\nX-aws-ec2-metadata-token-ttl-seconds: 1\r\n\r\n",
		"GET //latest/../latest/dynamic/instance-identity/document?x=%00 HTTP/1.0\r\n\r\n",
		"HEAD /latest/meta-data/iam/security-credentials-extended/demo/// HTTP/1.1\r\nHost: 169.254.169.254:80\r\nX-aws-ec2-metadata-token: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n\r\n",
	} {
		f.Add([]byte(seed), false)
	}
	now := time.Now()
	role := Role{Name: "demo", Credentials: testCreds(now)}
	servers := map[bool]*Server{}
	for _, required := range []bool{false, true} {
		s, err := New(Options{
			Source: staticSource(role, nil), Region: "eu-west-1", TokenRequired: required,
			Logger: slog.New(slog.DiscardHandler), AllowedHosts: DefaultAllowedHosts,
			RateLimit: RateLimit{PerSecond: 1e9, Burst: 1e9},
		})
		if err != nil {
			f.Fatal(err)
		}
		servers[required] = s
	}
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9254}
	f.Fuzz(func(t *testing.T, raw []byte, required bool) {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return // net/http answers 400 itself
		}
		r.RemoteAddr = "127.0.0.1:40000"
		r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, net.Addr(local)))
		w := httptest.NewRecorder()
		servers[required].ServeHTTP(w, r)
		if !fuzzStatuses[w.Code] {
			t.Fatalf("status %d for %q", w.Code, raw)
		}
		for k := range w.Header() {
			if strings.HasPrefix(strings.ToLower(k), "access-control-") {
				t.Fatalf("CORS header %s sent for %q", k, raw)
			}
		}
		body := w.Body.String()
		leaked := strings.Contains(body, role.Credentials.SecretAccessKey)
		if leaked && (isBrowserRequest(r.Header) || !servers[required].hosts.allowed(r.Host, local.AddrPort().Addr())) {
			t.Fatalf("credentials served to a browser or a foreign Host: %q", raw)
		}
		if leaked && required {
			t.Fatalf("credentials served without a token in required mode: %q", raw)
		}
	})
}

// FuzzTokenSigner_Check: no input the signer did not issue passes the
// check (the HMAC cannot be forged, and no second spelling of an issued
// token is accepted); a token the signer issued always passes.
func FuzzTokenSigner_Check(f *testing.F) {
	clk := newFakeClock()
	s, err := newTokenSigner(clk.Now)
	if err != nil {
		f.Fatal(err)
	}
	var mu sync.Mutex
	issued := map[string]bool{}
	for _, ttl := range []time.Duration{time.Second, time.Minute, MaxTokenTTL} {
		tok := s.issue(ttl)
		issued[tok] = true
		f.Add(tok)
		f.Add(tok[:len(tok)-1] + "A")
		f.Add(strings.ToUpper(tok))
		// The last character carries two padding bits: a second spelling
		// of the same token unless decoding is strict.
		alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		i := strings.IndexByte(alphabet, tok[len(tok)-1])
		f.Add(tok[:len(tok)-1] + string(alphabet[i^1]))
	}
	f.Add("")
	f.Add(strings.Repeat("A", tokenLen))
	f.Add(strings.Repeat("=", tokenLen+1))
	f.Fuzz(func(t *testing.T, tok string) {
		err := s.check(tok, s.now())
		mu.Lock()
		known := issued[tok]
		mu.Unlock()
		if err == nil && !known {
			t.Fatalf("check accepted %q, which the signer never issued", tok)
		}
		if known && err != nil {
			t.Fatalf("check refused issued token %q: %v", tok, err)
		}
	})
}

// FuzzParseTokenTTL: only decimal 1..21600 in its one spelling (no sign,
// no leading zero) is accepted, and what is accepted is that many seconds.
func FuzzParseTokenTTL(f *testing.F) {
	for _, s := range []string{"1", "21600", "21601", "0", "-1", "+5", "05", "00060", "1e3", " 60", "60 ", "9223372036854775807", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		ttl, err := parseTokenTTL(v)
		if err != nil {
			return
		}
		if ttl < MinTokenTTL || ttl > MaxTokenTTL || ttl%time.Second != 0 {
			t.Fatalf("parseTokenTTL(%q) = %s, out of range", v, ttl)
		}
		if canonical := strconv.FormatInt(int64(ttl/time.Second), 10); v != canonical {
			t.Fatalf("parseTokenTTL(%q) accepted a spelling other than %q", v, canonical)
		}
	})
}

// FuzzHostAllowed: a Host is allowed only if its host part is an allowed
// name (any case), an allowed address, or the local address.
func FuzzHostAllowed(f *testing.F) {
	for _, s := range []string{"169.254.169.254", "169.254.169.254:80", "[fd00:ec2::254]:80", "localhost", "LocalHost:1",
		"evil.example", "127.0.0.1.nip.io", "[::1", "::1", "[::ffff:7f00:1]", "0177.0.0.1", "", ":80", "[]:80", "a:b:c",
		"[::1]:99999", "localhost:65536", "localhost:0", "localhost:+80"} {
		f.Add(s)
	}
	h := newHostSet(DefaultAllowedHosts)
	local := net.IPv4(127, 0, 0, 1)
	localAddr := (&net.TCPAddr{IP: local}).AddrPort().Addr()
	f.Fuzz(func(t *testing.T, host string) {
		if !h.allowed(host, localAddr) {
			return
		}
		name, ok := splitHost(host)
		if !ok {
			t.Fatalf("allowed %q whose host part does not parse", host)
		}
		// Any port it carries is decimal 1..65535 (ParseUint takes no sign).
		var port string
		if strings.HasPrefix(host, "[") {
			port = strings.TrimPrefix(host[strings.IndexByte(host, ']')+1:], ":")
		} else if i := strings.IndexByte(host, ':'); i >= 0 {
			port = host[i+1:]
		}
		if port != "" {
			if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
				t.Fatalf("allowed %q, whose port is not 1..65535", host)
			}
		}
		for _, a := range DefaultAllowedHosts {
			if strings.EqualFold(a, name) {
				return
			}
			if ip := net.ParseIP(name); ip != nil && (ip.Equal(net.ParseIP(a)) || ip.Equal(local)) {
				return
			}
		}
		t.Fatalf("allowed %q (host %q), which is in no allowlist", host, name)
	})
}

// FuzzContainerHandler_Authorization: with a token set, the container
// endpoint serves credentials only to the exact Authorization value, and
// never answers 5xx with a healthy source.
func FuzzContainerHandler_Authorization(f *testing.F) {
	const token = "Bearer s3cr3t-container-token"
	for _, s := range []string{token, "", "Bearer", token + " ", " " + token, strings.ToLower(token), token[:len(token)-1], token + "\x00"} {
		f.Add(s)
	}
	now := time.Now()
	role := Role{Name: "demo", Credentials: testCreds(now)}
	h, err := NewContainerHandler(ContainerOptions{Source: staticSource(role, nil), Token: token, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, auth string) {
		r := httptest.NewRequest(http.MethodGet, PathContainerCredentials, nil)
		r.Header[headerAuthorization] = []string{auth}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch {
		case w.Code >= 500:
			t.Fatalf("status %d for Authorization %q", w.Code, auth)
		case auth == token && w.Code != http.StatusOK:
			t.Fatalf("right token: status %d, want 200", w.Code)
		case auth != token && w.Code != http.StatusUnauthorized:
			t.Fatalf("Authorization %q: status %d, want 401", auth, w.Code)
		case auth != token && strings.Contains(w.Body.String(), role.Credentials.SecretAccessKey):
			t.Fatalf("Authorization %q: credentials served", auth)
		}
	})
}
