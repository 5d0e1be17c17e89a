// Package metrics exposes imdsd's Prometheus metrics on an opt-in listener
// (metrics_listen): IMDS requests by route and status with latency
// histograms, STS calls and failures by role and error code, refreshes,
// seconds until each role's credentials expire, and clients seen.
//
// No label ever carries a secret or anything a client typed: routes are the
// imds package's fixed Route* labels, roles are names from the config, and
// error codes are AWS error codes (or "network").
package metrics

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "imdsd"

// RoleSample is one role's state at scrape time.
type RoleSample struct {
	Name    string
	Expires time.Time // zero when the role holds no credentials
	Default bool
	// CertificateExpires is when a Roles Anywhere role's certificate
	// ends; zero for other roles.
	CertificateExpires time.Time
}

// Options configure [New].
type Options struct {
	// Roles returns the roles' current state at each scrape; may be nil.
	Roles func() []RoleSample
	// Clients returns how many distinct clients were seen; may be nil.
	Clients func() int
	// Ready reports what keeps the daemon from being ready (nil: ready),
	// for the readiness probe at PathReady; nil means always ready.
	Ready func() error
	// Scheduler returns the role scheduler's state; may be nil.
	Scheduler func() SchedulerSample
	// Now is the clock for the expiry countdown; time.Now when nil.
	Now    func() time.Time
	Logger *slog.Logger
}

// Metrics holds imdsd's collectors and the registry that exposes them.
type Metrics struct {
	opts     Options
	log      *slog.Logger
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	sts      *prometheus.CounterVec
	stsFail  *prometheus.CounterVec
	refresh  *prometheus.CounterVec

	mu      sync.RWMutex
	byRoute map[routeStatus]requestSeries

	// Shorter limits for tests; zero means the constants below.
	readHeaderTimeout, idleTimeout time.Duration
}

type routeStatus struct {
	route  string
	status int
}

// requestSeries are the resolved series of one route and status, cached so
// that ObserveRequest does no label hashing and no allocation.
type requestSeries struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

// New registers imdsd's collectors, plus the Go and process collectors, in
// a registry of its own.
func New(opts Options) *Metrics {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	m := &Metrics{
		opts:    opts,
		log:     opts.Logger.With("component", "metrics"),
		reg:     prometheus.NewRegistry(),
		byRoute: map[routeStatus]requestSeries{},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "requests_total",
			Help: "IMDS requests served, by route and HTTP status.",
		}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "request_duration_seconds",
			Help: "IMDS request latency, by route and HTTP status.",
			// SDKs give IMDS 0.25 to 1 s; the interesting range is far below.
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05, .25, 1},
		}, []string{"route", "status"}),
		sts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "sts_calls_total",
			Help: "Credential fetches from STS (or the role's source), by role.",
		}, []string{"role"}),
		stsFail: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "sts_failures_total",
			Help: "Failed credential fetches, by role and AWS error code.",
		}, []string{"role", "code"}),
		refresh: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "refreshes_total",
			Help: "Successful credential refreshes, by role.",
		}, []string{"role"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.sts, m.stsFail, m.refresh, roleCollector{m}, schedulerCollector{m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveRequest counts one IMDS request; it has the signature of
// imds.Options.Observe.
func (m *Metrics) ObserveRequest(route string, status int, d time.Duration) {
	k := routeStatus{route, status}
	m.mu.RLock()
	s, ok := m.byRoute[k]
	m.mu.RUnlock()
	if !ok {
		code := strconv.Itoa(status)
		s = requestSeries{m.requests.WithLabelValues(route, code), m.latency.WithLabelValues(route, code)}
		m.mu.Lock()
		m.byRoute[k] = s
		m.mu.Unlock()
	}
	s.count.Inc()
	s.latency.Observe(d.Seconds())
}

// ObserveFetch counts one credential fetch for role; code is "" on success,
// else the AWS error code (or "network").
func (m *Metrics) ObserveFetch(role, code string) {
	m.sts.WithLabelValues(role).Inc()
	if code == "" {
		m.refresh.WithLabelValues(role).Inc()
		return
	}
	m.stsFail.WithLabelValues(role, code).Inc()
}

// ForgetRole drops a removed role's series.
func (m *Metrics) ForgetRole(role string) {
	l := prometheus.Labels{"role": role}
	m.sts.DeletePartialMatch(l)
	m.stsFail.DeletePartialMatch(l)
	m.refresh.DeletePartialMatch(l)
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelWarn)})
}

// Limits of the metrics listener, those of a careful http.Server: a
// scraper sends its headers at once, and Prometheus reuses one connection
// per scrape interval (at most a minute or two).
const (
	readHeaderTimeout = 5 * time.Second
	idleTimeout       = 90 * time.Second
	maxHeaderBytes    = 8 << 10
)

// Run serves /metrics on ln until ctx ends. A cancelled ctx returns nil.
// Only requests whose Host is an IP address, localhost or ln's own address
// are served (see hostAllowed). Accept errors that can pass, such as running
// out of file descriptors, are retried by net/http with a growing pause.
func (m *Metrics) Run(ctx context.Context, ln net.Listener) error {
	srv := m.server(ctx, ln)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-errc
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("metrics: serve %s: %w", ln.Addr(), err)
	}
}

func (m *Metrics) server(ctx context.Context, ln net.Listener) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET "+PathHealth, m.serveHealth)
	mux.HandleFunc("GET "+PathReady, m.serveReady)
	return &http.Server{
		Handler:           hostCheck(mux, ln.Addr()),
		ReadHeaderTimeout: cmp.Or(m.readHeaderTimeout, readHeaderTimeout),
		IdleTimeout:       cmp.Or(m.idleTimeout, idleTimeout),
		MaxHeaderBytes:    maxHeaderBytes,
		// Warn: an accept error (out of file descriptors) is worth seeing.
		ErrorLog:    slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
}

// roleCollector reports the per-role gauges at scrape time.
type roleCollector struct{ m *Metrics }

var (
	descExpiry = prometheus.NewDesc(namespace+"_credentials_expiry_seconds",
		"Seconds until the role's current credentials expire (negative: expired).", []string{"role"}, nil)
	descHave = prometheus.NewDesc(namespace+"_credentials_available",
		"1 when the role holds credentials, else 0.", []string{"role"}, nil)
	descDefault = prometheus.NewDesc(namespace+"_default_role",
		"1 for the role served by default.", []string{"role"}, nil)
	descCertExpiry = prometheus.NewDesc(namespace+"_certificate_expiry_seconds",
		"Seconds until a Roles Anywhere role's certificate expires (negative: expired).", []string{"role"}, nil)
	descClients = prometheus.NewDesc(namespace+"_clients",
		"Distinct clients seen since the daemon started.", nil, nil)
)

func (c roleCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descExpiry
	ch <- descHave
	ch <- descDefault
	ch <- descCertExpiry
	ch <- descClients
}

func (c roleCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.m.opts.Now()
	if c.m.opts.Roles != nil {
		for _, r := range c.m.opts.Roles() {
			have := 0.0
			if !r.Expires.IsZero() {
				have = 1
				ch <- prometheus.MustNewConstMetric(descExpiry, prometheus.GaugeValue, r.Expires.Sub(now).Seconds(), r.Name)
			}
			ch <- prometheus.MustNewConstMetric(descHave, prometheus.GaugeValue, have, r.Name)
			def := 0.0
			if r.Default {
				def = 1
			}
			ch <- prometheus.MustNewConstMetric(descDefault, prometheus.GaugeValue, def, r.Name)
			if !r.CertificateExpires.IsZero() {
				ch <- prometheus.MustNewConstMetric(descCertExpiry, prometheus.GaugeValue, r.CertificateExpires.Sub(now).Seconds(), r.Name)
			}
		}
	}
	if c.m.opts.Clients != nil {
		ch <- prometheus.MustNewConstMetric(descClients, prometheus.GaugeValue, float64(c.m.opts.Clients()))
	}
}
