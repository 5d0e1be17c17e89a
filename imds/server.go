package imds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"sync"
	"sync/atomic"
	"time"
)

// Default server limits. IMDS requests are tiny and answered from memory, so
// the limits can be tight without hurting any SDK.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultIdleTimeout       = 90 * time.Second
	DefaultShutdownTimeout   = 10 * time.Second
	// DefaultMaxHeaderBytes is the largest request head the server reads:
	// the request line, the headers and the blank line that ends them. A
	// longer one is 431. SDK requests are a few hundred bytes.
	DefaultMaxHeaderBytes = 8 << 10
)

// netHTTPHeaderSlop is what net/http reads past http.Server.MaxHeaderBytes
// before it answers 431 ("bufio slop", initialReadLimitSize in
// net/http/server.go). MaxHeaderBytes is set this much lower so that the
// limit is DefaultMaxHeaderBytes, as documented, not 12 KiB (issue 15
// item 10); TestServer_HeaderLimit holds the boundary on a real socket, so
// a change of the slop in net/http fails it.
const netHTTPHeaderSlop = 4096

// Options configure a [Server].
type Options struct {
	// Source answers which role a caller may use and its credentials.
	// Required.
	Source Source
	// TokenRequired makes IMDSv2 mandatory: metadata requests without a
	// token get 401, as on an instance with HttpTokens=required.
	TokenRequired bool
	// Region is the AWS region the instance appears to run in; the
	// availability zone is Region+"a". Required.
	Region string
	// InstanceID is the instance ID served; DefaultInstanceID() when empty.
	InstanceID string
	// AccountID is served in the identity document when the caller's role
	// does not tell its own account.
	AccountID string
	// Logger receives the server's logs; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil. Tests inject a fake.
	Now func() time.Time
	// ShutdownTimeout bounds how long Run waits for in-flight requests when
	// its context ends; DefaultShutdownTimeout when zero.
	ShutdownTimeout time.Duration
	// Observe, when set, is called after each request with its route (one
	// of the Route* labels), status and latency, for metrics. It runs on
	// the request's goroutine and must not block.
	Observe func(route string, status int, d time.Duration)

	// AllowedHosts, when not nil, turns on the Host check (security.go):
	// a request whose Host is not one of these names or addresses, nor the
	// address the connection arrived on, is 403 before any routing. cmd
	// passes DefaultAllowedHosts plus its listen addresses.
	AllowedHosts []string
	// RateLimit limits each caller's request rate (429 past it); off when
	// PerSecond is zero (limits.go). The caller is the one ConnIdentity
	// names, else the remote address.
	RateLimit RateLimit
	// MaxConnsPerClient caps the concurrent connections of one caller in
	// Run and Serve; 0 is no cap. A connection over the cap takes the
	// slot of one of its caller's idle keep-alive connections, which is
	// closed, or waits up to DefaultConnWait for a slot (as many waiters
	// as the cap); only then is it closed (conngate.go).
	MaxConnsPerClient int
	// MaxConns caps the connections open at once in one Run or Serve
	// call, every caller's together; 0 is no cap. A connection accepted
	// at the cap closes the idle connection open longest (kept alive
	// between requests, or sent nothing yet) to take its place; a
	// connection in a request is never closed for it, and when every one
	// is, the new connection is closed instead (issue 15 item 4: 6,144
	// idle connections took RSS from 22.6 to 140.6 MB).
	MaxConns int
	// ConnIdentity, when set, names the caller of a connection made from
	// this host (loopback, or from the address it arrived on), looked up
	// once per connection, at its first read: cmd passes the uid owning
	// the client socket ("uid=1000", peercred). Connections with the same
	// key share the rate limit, the connection cap and the audit's dedup,
	// and log lines name the key; where it is not set or not ok, the
	// remote address is the key. Every local process connects from a
	// loopback address, so without it all local users share one budget
	// (issue 15 items 1, 2 and 7). It runs on the connection's goroutine
	// and may block briefly (a netlink round trip).
	ConnIdentity func(remote, local netip.AddrPort) (key string, ok bool)
	// HopLimit, when > 0, is the IP TTL / IPv6 hop limit of accepted
	// sockets in Run, as EC2's HttpPutResponseHopLimit.
	HopLimit int
	// IdentifyCaller, when set, completes a Caller (its UID, from the
	// socket's owner) before the Source sees it. It runs only for requests
	// that reach the Source, so the token and static paths never pay.
	IdentifyCaller func(Caller) Caller
	// Audit, when set, receives a line per credential document served:
	// client, uid or container, role and the last 4 characters of the
	// access key ID. The same document served again to the same client
	// within 10 s is counted and reported in one line (audit.go).
	Audit *slog.Logger
}

var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)

// ValidRegion reports whether s looks like an AWS region name.
func ValidRegion(s string) bool { return regionPattern.MatchString(s) }

// Server is an IMDS HTTP server.
type Server struct {
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	tokens  *tokenSigner
	started time.Time

	hosts    hostSet
	limiter  *rateLimiter
	audit    *auditor // nil without Options.Audit
	logs     logBudgets
	date     dateCache
	counters securityCounters

	// headerTimeout, activeTimeout, idleTimeout and reaperTick bound
	// connections (conn.go), connWait a wait for a slot under the
	// connection cap (conngate.go); tests shorten them.
	headerTimeout, activeTimeout, idleTimeout, reaperTick, connWait time.Duration
	// connAfter is the timer of a wait for a slot; time.After, a seam for
	// tests.
	connAfter func(time.Duration) <-chan time.Time
	// lastGate is the connection gate of the last Serve call, which tests
	// look into.
	lastGate atomic.Pointer[connGate]
	// lastReaper is the reaper of the last Serve call, likewise.
	lastReaper atomic.Pointer[reaper]

	docs   atomic.Pointer[map[string]*renderedDoc]
	docsMu sync.Mutex // serialises writers of docs
	zone   string
}

// New checks opts and returns a Server.
func New(opts Options) (*Server, error) {
	if opts.Source == nil {
		return nil, errors.New("imds: Options.Source is required")
	}
	if !ValidRegion(opts.Region) {
		return nil, fmt.Errorf("imds: invalid region %q", opts.Region)
	}
	if opts.InstanceID == "" {
		opts.InstanceID = DefaultInstanceID()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = DefaultShutdownTimeout
	}
	if opts.HopLimit > 0 && !HopLimitSupported {
		return nil, fmt.Errorf("imds: %w", ErrHopLimitUnsupported)
	}
	if opts.HopLimit > 255 {
		return nil, fmt.Errorf("imds: hop limit %d out of range 1..255", opts.HopLimit)
	}
	tokens, err := newTokenSigner(opts.Now)
	if err != nil {
		return nil, fmt.Errorf("imds: %w", err)
	}
	log := opts.Logger.With("component", "imds")
	s := &Server{
		opts:    opts,
		log:     log,
		now:     opts.Now,
		tokens:  tokens,
		started: opts.Now().UTC().Truncate(time.Second),
		zone:    opts.Region + "a",
		hosts:   newHostSet(opts.AllowedHosts),
		limiter: newRateLimiter(opts.RateLimit),
		audit:   newAuditor(opts.Audit, opts.Now),
		logs:    newLogBudgets(log, opts.Now),

		headerTimeout: DefaultReadHeaderTimeout,
		activeTimeout: DefaultActiveTimeout,
		idleTimeout:   DefaultIdleTimeout,
		reaperTick:    reaperTick,
		connWait:      DefaultConnWait,
		connAfter:     time.After,
	}
	empty := map[string]*renderedDoc{}
	s.docs.Store(&empty)
	return s, nil
}

// ServeHTTP serves one IMDS request. Its path is classified once
// (routes.go), for the dispatch and for Options.Observe alike.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt := classify(r.URL.Path)
	if s.opts.Observe != nil {
		s.serveObserved(w, r, rt)
		return
	}
	s.serveIMDS(w, r, rt)
}

// newHTTPServer returns an http.Server for h with the package's limits.
// Its connections must come from wrapListener, whose conns the reaper
// tracks (conn.go); the reaper's stop ends it.
func (s *Server) newHTTPServer(ctx context.Context, h http.Handler) (*http.Server, *reaper) {
	rp := newReaper(s.headerTimeout, s.activeTimeout, s.idleTimeout, s.reaperTick)
	rp.max = s.opts.MaxConns
	return &http.Server{
		Handler: h,
		// No net/http timeouts: the reaper enforces them (conn.go).
		MaxHeaderBytes: DefaultMaxHeaderBytes - netHTTPHeaderSlop,
		ConnState:      rp.connState,
		ConnContext:    connContext,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		// In-flight requests are answered from memory; they are allowed to
		// finish after ctx ends, so their context does not inherit its
		// cancellation.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}, rp
}

// Run serves the IMDS on every listener until ctx ends, then shuts down
// gracefully: listeners close at once, in-flight requests finish (bounded
// by Options.ShutdownTimeout). A cancelled ctx is a normal stop and returns
// nil. Run closes the listeners.
func (s *Server) Run(ctx context.Context, lns ...net.Listener) error {
	// The counts of the last window of the audit and of every log line
	// budget.
	defer s.logs.flush()
	defer s.audit.flush()
	return s.Serve(ctx, s, lns...)
}

// Serve is Run with another handler, for endpoints served next to the IMDS
// (the container credentials endpoint): h gets the same connection limits
// (connection cap per client, hop limit, timeouts). Wrap h in Guard for
// the request checks too.
func (s *Server) Serve(ctx context.Context, h http.Handler, lns ...net.Listener) error {
	if len(lns) == 0 {
		return errors.New("imds: no listener")
	}
	srv, rp := s.newHTTPServer(ctx, h)
	defer rp.stop()
	s.lastReaper.Store(rp)
	errc := make(chan error, len(lns))
	var wg sync.WaitGroup
	gate := s.newConnGate()
	s.lastGate.Store(gate)
	for _, ln := range lns {
		gl := s.wrapListener(ln, gate)
		gl.reaper = rp
		ln := net.Listener(gl)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serve %s: %w", ln.Addr(), err)
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil && err == nil {
		err = fmt.Errorf("imds: shutdown: %w", serr)
	}
	wg.Wait()
	return err
}
