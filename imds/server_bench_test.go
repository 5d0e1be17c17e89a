package imds

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// The benchmarks measure the hot paths (docs/BENCHMARKS.md): the token PUT,
// the role listing and the credential document. Run them with
//
//	go test -run '^$' -bench . -benchmem ./imds/
//
// The handler benchmarks reuse one request and one ResponseWriter, so
// allocs/op counts only what imdsd's own code allocates per request; the
// BenchmarkHTTP_* pairs go through net/http over loopback, where the ceiling
// handler shows what net/http (server and client) allocates by itself.

// benchCredsFor returns credentials the size moto hands out.
func benchCredsFor(now time.Time) Credentials {
	return Credentials{
		AccessKeyID:     "ASIARZPUZDIKIGVXDJCV",
		SecretAccessKey: "SgjznraP8o9HoKjP6QLErg5O1VINOLCFis+yj0WB",
		SessionToken:    strings.Repeat("FQoGZXIvYXdzEBYaDL3qgJK5QuQKWyuHUlKOpN1/", 9),
		Expires:         now.Add(time.Hour),
		LastUpdated:     now,
		AccountID:       "123456789012",
	}
}

const benchRole = "demo"

// newBenchServer returns a Server whose source always answers benchRole,
// the way cmd/imdsd's single-role source does.
func newBenchServer(tb testing.TB) *Server {
	tb.Helper()
	now := time.Now()
	role := Role{Name: benchRole, Credentials: benchCredsFor(now)}
	s, err := New(Options{
		Source: SourceFunc(func(context.Context, Caller) (Role, error) { return role, nil }),
		Region: "eu-west-1",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return s
}

// benchWriter is a ResponseWriter that keeps nothing but counts, so a
// benchmark measures the handler and not a recorder.
type benchWriter struct {
	h    http.Header
	code int
	n    int
}

func newBenchWriter() *benchWriter { return &benchWriter{h: make(http.Header, 8)} }

func (w *benchWriter) Header() http.Header { return w.h }

func (w *benchWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.n += len(b)
	return len(b), nil
}

// WriteString makes benchWriter an io.StringWriter, as net/http's
// ResponseWriter is.
func (w *benchWriter) WriteString(s string) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.n += len(s)
	return len(s), nil
}

func (w *benchWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *benchWriter) reset() {
	clear(w.h)
	w.code, w.n = 0, 0
}

// benchRequest builds a request as the server's net/http hands it to the
// handler: remote address, local address in the context, and the
// connection's info parsed once at accept (Server.Serve's ConnContext).
func benchRequest(method, path string, header ...string) *http.Request {
	r := httptest.NewRequest(method, path, nil)
	r.RemoteAddr = "127.0.0.1:40000"
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9254}
	ctx := context.WithValue(r.Context(), http.LocalAddrContextKey, net.Addr(local))
	ctx = context.WithValue(ctx, connKey{}, &connInfo{
		remote: netip.MustParseAddrPort(r.RemoteAddr),
		local:  local.AddrPort(),
	})
	r = r.WithContext(ctx)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	return r
}

// benchServe runs r through h b.N times and fails on any status but 200.
func benchServe(b *testing.B, h http.Handler, r *http.Request) {
	b.Helper()
	w := newBenchWriter()
	h.ServeHTTP(w, r) // warm the rendered-document cache
	if w.code != http.StatusOK {
		b.Fatalf("%s %s: status %d, want 200", r.Method, r.URL.Path, w.code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, r)
	}
	b.StopTimer()
	if w.code != http.StatusOK {
		b.Fatalf("%s %s: status %d, want 200", r.Method, r.URL.Path, w.code)
	}
}

func BenchmarkTokenSigner_Issue(b *testing.B) {
	s, err := newTokenSigner(time.Now)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.issue(6 * time.Hour)
	}
}

func BenchmarkTokenSigner_Check(b *testing.B) {
	s, err := newTokenSigner(time.Now)
	if err != nil {
		b.Fatal(err)
	}
	tok := s.issue(6 * time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.check(tok, s.now()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkServer_Token(b *testing.B) {
	for _, ttl := range []string{"21600", "300", "17"} {
		b.Run("ttl="+ttl, func(b *testing.B) {
			s := newBenchServer(b)
			benchServe(b, s, benchRequest(http.MethodPut, PathToken, HeaderTokenTTL, ttl))
		})
	}
}

func BenchmarkServer_Listing(b *testing.B) {
	s := newBenchServer(b)
	tok := s.tokens.issue(6 * time.Hour)
	benchServe(b, s, benchRequest(http.MethodGet, PathSecurityCredentials+"/", HeaderToken, tok))
}

func BenchmarkServer_Credentials(b *testing.B) {
	for _, path := range []string{PathSecurityCredentials, PathExtendedCredentials} {
		b.Run(path[strings.LastIndexByte(path, '/')+1:], func(b *testing.B) {
			s := newBenchServer(b)
			tok := s.tokens.issue(6 * time.Hour)
			benchServe(b, s, benchRequest(http.MethodGet, path+"/"+benchRole, HeaderToken, tok))
		})
	}
}

// BenchmarkServer_Metadata is the static metadata GETs tools and the region
// chains make: the instance ID, and botocore's availability zone with its
// trailing slash on a leaf (imds-protocol.md §2.1).
func BenchmarkServer_Metadata(b *testing.B) {
	for _, path := range []string{PathInstanceID, PathAvailabilityZone + "/"} {
		b.Run(strings.TrimSuffix(path[len(PathMetaData)+1:], "/"), func(b *testing.B) {
			s := newBenchServer(b)
			tok := s.tokens.issue(6 * time.Hour)
			benchServe(b, s, benchRequest(http.MethodGet, path, HeaderToken, tok))
		})
	}
}

// ceilingHandler is the least a net/http server can do for the credential
// GET: a fixed document, no token check, no routing. It sends the same
// headers as imdsd, so both responses cost the client the same.
func ceilingHandler(doc []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Server", serverName)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Type", contentText)
		_, _ = w.Write(doc)
	})
}

// BenchmarkHTTP_Credentials compares the credential GET through net/http,
// client and server, for imdsd and for the ceiling handler serving the same
// document. allocs/op of imdsd minus those of the ceiling is what imdsd adds.
func BenchmarkHTTP_Credentials(b *testing.B) {
	s := newBenchServer(b)
	tok := s.tokens.issue(6 * time.Hour)
	path := PathSecurityCredentials + "/" + benchRole
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, benchRequest(http.MethodGet, path, HeaderToken, tok))
	doc := rec.Body.Bytes()
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"imdsd", s}, {"ceiling", ceilingHandler(doc)}} {
		b.Run(tc.name, func(b *testing.B) {
			srv := httptest.NewServer(tc.h)
			defer srv.Close()
			req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
			if err != nil {
				b.Fatal(err)
			}
			req.Header[HeaderToken] = []string{tok}
			client := srv.Client()
			buf := make([]byte, 4096)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.ReadFull(resp.Body, buf[:len(doc)])
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || n != len(doc) {
					b.Fatalf("status %d, %d bytes; want 200, %d bytes", resp.StatusCode, n, len(doc))
				}
			}
		})
	}
}
