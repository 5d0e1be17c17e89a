package imds

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Route labels passed to Options.Observe. They are a fixed set, never a
// path the client sent, so a metric labelled with one can neither grow
// without bound nor carry what a client typed.
const (
	RouteToken       = "token"
	RouteRoleListing = "role-listing"
	RouteCredentials = "credentials"
	RouteIdentity    = "identity"
	RouteMetadata    = "metadata"
	RouteOther       = "other"
)

// routeOf classifies a request path for Observe.
func routeOf(p string) string {
	p = strings.TrimRight(p, "/")
	switch {
	case isTokenPath(p):
		return RouteToken
	case p == PathSecurityCredentials || p == PathExtendedCredentials:
		return RouteRoleListing
	case strings.HasPrefix(p, prefixCredentials) || strings.HasPrefix(p, prefixExtended):
		return RouteCredentials
	case strings.HasPrefix(p, PathDynamic):
		return RouteIdentity
	case p == "/" || p == PathLatest || strings.HasPrefix(p, PathMetaData):
		return RouteMetadata
	}
	return RouteOther
}

// statusRecorder remembers the status a handler wrote. Recorders are
// pooled: the observed path allocates nothing per request.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// WriteString keeps writeText's copy-free path through the wrapper.
func (r *statusRecorder) WriteString(s string) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return io.WriteString(r.ResponseWriter, s)
}

var recorders = sync.Pool{New: func() any { return new(statusRecorder) }}

// withObserve reports each request's route, status and latency to
// Options.Observe. Latency is wall time on the monotonic clock, not the
// injectable Options.Now: it is a measurement, not a protocol decision.
func (s *Server) withObserve(next http.Handler) http.Handler {
	observe := s.opts.Observe
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := recorders.Get().(*statusRecorder)
		rec.ResponseWriter, rec.status = w, 0
		next.ServeHTTP(rec, r)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		rec.ResponseWriter = nil
		recorders.Put(rec)
		observe(routeOf(r.URL.Path), status, time.Since(start))
	})
}
