package imds

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"
)

type observation struct {
	route  string
	status int
}

func newObservedServer(tb testing.TB, observe func(string, int, time.Duration)) *Server {
	tb.Helper()
	role := Role{Name: benchRole, Credentials: benchCredsFor(time.Now())}
	s, err := New(Options{
		Source:  SourceFunc(func(context.Context, Caller) (Role, error) { return role, nil }),
		Region:  "eu-west-1",
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Observe: observe,
	})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return s
}

func TestServer_Observe(t *testing.T) {
	var got []observation
	s := newObservedServer(t, func(route string, status int, d time.Duration) {
		if d < 0 {
			t.Errorf("negative latency %s", d)
		}
		got = append(got, observation{route, status})
	})
	tok := s.tokens.issue(time.Hour)
	tests := []struct {
		method, path string
		header       []string
		want         observation
	}{
		{http.MethodPut, PathToken, []string{HeaderTokenTTL, "60"}, observation{RouteToken, 200}},
		{http.MethodPut, PathToken, nil, observation{RouteToken, 400}},
		{http.MethodGet, PathSecurityCredentials + "/", []string{HeaderToken, tok}, observation{RouteRoleListing, 200}},
		{http.MethodGet, PathSecurityCredentials + "/" + benchRole, []string{HeaderToken, tok}, observation{RouteCredentials, 200}},
		{http.MethodGet, PathSecurityCredentials + "/secret-looking-name", nil, observation{RouteCredentials, 404}},
		{http.MethodGet, PathIdentityDocument, nil, observation{RouteIdentity, 200}},
		{http.MethodGet, PathInstanceID, nil, observation{RouteMetadata, 200}},
		{http.MethodGet, "/something/else", nil, observation{RouteOther, 404}},
		{http.MethodGet, PathInstanceID, []string{HeaderToken, "forged"}, observation{RouteMetadata, 401}},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			got = got[:0]
			w := newBenchWriter()
			s.ServeHTTP(w, benchRequest(tc.method, tc.path, tc.header...))
			if len(got) != 1 || got[0] != tc.want {
				t.Fatalf("got %+v, want one %+v (response status %d)", got, tc.want, w.code)
			}
			if w.code != tc.want.status {
				t.Fatalf("response status %d, observed %d", w.code, tc.want.status)
			}
		})
	}
}

// TestServer_ObserveAllocs checks that observing costs the credential path
// no allocation: the recorder is pooled and the labels are constants.
func TestServer_ObserveAllocs(t *testing.T) {
	plain := newObservedServer(t, nil)
	var n int
	observed := newObservedServer(t, func(string, int, time.Duration) { n++ })
	path := PathSecurityCredentials + "/" + benchRole
	allocs := func(s *Server) float64 {
		r := benchRequest(http.MethodGet, path)
		w := newBenchWriter()
		s.ServeHTTP(w, r)
		return testing.AllocsPerRun(200, func() { w.reset(); s.ServeHTTP(w, r) })
	}
	a, b := allocs(plain), allocs(observed)
	if b > a {
		t.Fatalf("observed credential GET: %.1f allocs, want no more than without Observe (%.1f)", b, a)
	}
	if n == 0 {
		t.Fatal("Observe was never called")
	}
}

func BenchmarkServer_CredentialsObserved(b *testing.B) {
	s := newObservedServer(b, func(string, int, time.Duration) {})
	tok := s.tokens.issue(6 * time.Hour)
	benchServe(b, s, benchRequest(http.MethodGet, PathSecurityCredentials+"/"+benchRole, HeaderToken, tok))
}
