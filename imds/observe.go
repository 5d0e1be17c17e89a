package imds

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// Route labels passed to Options.Observe, one per row of the route table
// (routes.go); RouteOther is every path the IMDS does not serve. They are a
// fixed set, never a path the client sent, so a metric labelled with one
// can neither grow without bound nor carry what a client typed.
const (
	RouteToken       = "token"
	RouteRoleListing = "role-listing"
	RouteCredentials = "credentials"
	RouteIdentity    = "identity"
	RouteMetadata    = "metadata"
	RouteOther       = "other"
)

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

// serveObserved serves r and reports its route, status and latency to
// Options.Observe. Latency is wall time on the monotonic clock, not the
// injectable Options.Now: it is a measurement, not a protocol decision.
func (s *Server) serveObserved(w http.ResponseWriter, r *http.Request, rt route) {
	start := time.Now()
	rec := recorders.Get().(*statusRecorder)
	rec.ResponseWriter, rec.status = w, 0
	s.serveIMDS(rec, r, rt)
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	rec.ResponseWriter = nil
	recorders.Put(rec)
	s.opts.Observe(rt.label(), status, time.Since(start))
}
