package imds

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// RateLimit is a per-client request rate: a token bucket of Burst requests
// refilled at PerSecond. The client is the remote IP address, so one
// container or one host flooding the daemon gets 429 while every other
// address is served as usual. All local processes share a loopback address
// (127.0.0.1 or ::1) and so one bucket; a local process that wants a bucket
// of its own may connect from another 127.0.0.0/8 address.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// Default limits cmd/imdsd applies. Real IMDS throttles at 1024 packets per
// second per network interface; SDKs make three requests per credential
// fetch, so these are far above any legitimate caller.
const (
	DefaultRatePerSecond     = 1024
	DefaultRateBurst         = 2048
	DefaultMaxConnsPerClient = 128
)

// rateLimiter keeps one token bucket per client address. A zero
// rateLimiter allows everything.
type rateLimiter struct {
	rate, burst float64

	mu        sync.Mutex
	buckets   map[netip.Addr]bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds the limiter's memory; past it, idle (full) buckets are
// dropped at once rather than once a minute.
const maxBuckets = 1 << 16

func newRateLimiter(l RateLimit) *rateLimiter {
	if l.PerSecond <= 0 {
		return nil
	}
	burst := float64(l.Burst)
	if burst < 1 {
		burst = max(1, l.PerSecond)
	}
	return &rateLimiter{rate: l.PerSecond, burst: burst, buckets: map[netip.Addr]bucket{}}
}

// allow takes one token from a's bucket and reports whether there was one.
func (l *rateLimiter) allow(a netip.Addr, now time.Time) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[a]
	if !ok {
		b = bucket{tokens: l.burst, last: now}
	} else if dt := now.Sub(b.last); dt > 0 {
		b.tokens = min(l.burst, b.tokens+dt.Seconds()*l.rate)
		b.last = now
	} else if dt < 0 {
		b.last = now // the clock went back: refill from here
	}
	allowed := b.tokens >= 1
	if allowed {
		b.tokens--
	}
	l.buckets[a] = b
	if now.Sub(l.lastSweep) > time.Minute || len(l.buckets) > maxBuckets {
		l.sweepLocked(now)
	}
	return allowed
}

// sweepLocked drops the buckets that have refilled: they hold no state a
// new bucket would not.
func (l *rateLimiter) sweepLocked(now time.Time) {
	l.lastSweep = now
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	for a, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, a)
		}
	}
}

// valueRetryAfter tells a rate-limited client when to try again.
var valueRetryAfter = []string{"1"}

// allowRate answers 429 to a client over its rate, before any other work
// is done for it, and reports whether the request may go on.
func (s *Server) allowRate(w http.ResponseWriter, r *http.Request, ci *connInfo, now time.Time) bool {
	if s.limiter.allow(ci.remote.Addr(), now) {
		return true
	}
	if c := s.counters.rateLimited.Add(1); c&(c-1) == 0 {
		s.log.Warn("client over its rate limit; answering 429", "client", r.RemoteAddr, "count", c)
	}
	w.Header()["Retry-After"] = valueRetryAfter
	writeError(w, http.StatusTooManyRequests)
	return false
}

// ErrHopLimitUnsupported is returned by Run when Options.HopLimit is set on
// an OS where imdsd cannot set it.
var ErrHopLimitUnsupported = errors.New("hop limit is not supported on this OS")

// guardedListener applies the per-connection limits to accepted
// connections: a cap on concurrent connections per client address, and the
// IP TTL / IPv6 hop limit of the sockets. Every connection it returns is a
// *trackedConn, for the reaper (conn.go).
type guardedListener struct {
	net.Listener
	max        int
	hopLimit   int
	refused    *atomic.Uint64
	onRefuse   func(net.Addr, uint64)
	onHopError func(net.Addr, error)

	mu   sync.Mutex
	open map[netip.Addr]int
}

// wrapListener returns ln with the connection limits of s.opts.
func (s *Server) wrapListener(ln net.Listener) net.Listener {
	return &guardedListener{
		Listener: ln,
		max:      s.opts.MaxConnsPerClient,
		hopLimit: s.opts.HopLimit,
		refused:  &s.counters.connsRefused,
		onRefuse: func(a net.Addr, c uint64) {
			if c&(c-1) == 0 {
				s.log.Warn("client over its connection cap; connection closed", "client", a.String(), "count", c)
			}
		},
		onHopError: func(a net.Addr, err error) {
			s.log.Error("set hop limit; connection closed", "client", a.String(), "err", err)
		},
		open: map[netip.Addr]int{},
	}
}

// Accept returns the next connection within the limits. A connection over
// its client's cap is closed at once and Accept goes on waiting: a client
// holding many idle connections cannot starve the others. An accept error
// is returned as it is: http.Server retries only a net.Error that is
// Temporary (EMFILE, ENFILE), and would end Serve, and Run, on a wrapped
// one (TestServer_SurvivesEMFILE).
func (l *guardedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.hopLimit > 0 {
			// A connection whose hop limit cannot be set is not served:
			// the limit is what keeps the answer from leaving the host.
			if err := setHopLimit(c, l.hopLimit); err != nil {
				l.onHopError(c.RemoteAddr(), err)
				c.Close()
				continue
			}
		}
		if l.max <= 0 {
			return &trackedConn{Conn: c}, nil
		}
		var a netip.Addr
		if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			a = ta.AddrPort().Addr().Unmap()
		}
		l.mu.Lock()
		n := l.open[a]
		if n >= l.max {
			l.mu.Unlock()
			l.onRefuse(c.RemoteAddr(), l.refused.Add(1))
			c.Close()
			continue
		}
		l.open[a] = n + 1
		l.mu.Unlock()
		return &trackedConn{Conn: c, release: func() { l.release(a) }}, nil
	}
}

func (l *guardedListener) release(a netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := l.open[a]; n <= 1 {
		delete(l.open, a)
	} else {
		l.open[a] = n - 1
	}
}
