package metrics

import (
	"fmt"
	"net/http"
)

// Health paths on the metrics listener: Kubernetes' liveness and
// readiness probes (deploy/kubernetes/daemonset.yaml).
const (
	// PathHealth answers 200 while the daemon runs: it serves, so it lives.
	PathHealth = "/healthz"
	// PathReady answers 200 when Options.Ready reports nothing missing,
	// else 503 with what is missing (the pod informer not synced, the API
	// server out of reach past the grace, the DNAT rules not installed).
	PathReady = "/readyz"
)

func (m *Metrics) serveHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

func (m *Metrics) serveReady(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if m.opts.Ready != nil {
		if err := m.opts.Ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
	}
	fmt.Fprintln(w, "ok")
}
