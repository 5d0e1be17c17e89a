package imds

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// RateLimit is a per-client request rate: a token bucket of Burst requests
// refilled at PerSecond. The client is the caller as the connection
// identifies it (clientKey): the local user owning the socket where
// Options.ConnIdentity tells it, else the remote IP address. So one local
// process, one container or one host flooding the daemon gets 429 while
// every other caller is served as usual, even though every local process
// connects from a loopback address (issue 15 item 1).
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// Default limits cmd/imdsd applies, per caller. Real IMDS throttles at 1024
// packets per second per network interface; SDKs make three requests per
// credential fetch, so these are far above any legitimate caller.
const (
	DefaultRatePerSecond     = 1024
	DefaultRateBurst         = 2048
	DefaultMaxConnsPerClient = 128
	// DefaultMaxConns caps the connections of one Run in total (every
	// caller's): at about 23 KB of memory each when idle (docs/BENCHMARKS.md),
	// some 24 MB, and far below the descriptor limit the Go runtime raises
	// to. An SDK holds one connection; idle ones are shed to make room, so
	// only 1,024 requests in flight at once fill it.
	DefaultMaxConns = 1024
)

// rateLimiter keeps one token bucket per caller. A nil rateLimiter allows
// everything.
type rateLimiter struct {
	rate, burst float64

	mu        sync.Mutex
	buckets   map[clientKey]bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
	// logged is when the caller's last "over its rate limit" line was
	// written, refused the 429s since: a flooding caller is named once
	// per logWindow, with the count.
	logged  time.Time
	refused int
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
	return &rateLimiter{rate: l.PerSecond, burst: burst, buckets: map[clientKey]bucket{}}
}

// allow takes one token from k's bucket and reports whether there was one.
// When there was none and k's line is due, report is the number of 429s
// to name in it (this one included); it is 0 otherwise.
func (l *rateLimiter) allow(k clientKey, now time.Time) (allowed bool, report int) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[k]
	if !ok {
		b = bucket{tokens: l.burst, last: now}
	} else if dt := now.Sub(b.last); dt > 0 {
		b.tokens = min(l.burst, b.tokens+dt.Seconds()*l.rate)
		b.last = now
	} else if dt < 0 {
		b.last = now // the clock went back: refill from here
	}
	allowed = b.tokens >= 1
	if allowed {
		b.tokens--
	} else {
		b.refused++
		if b.logged.IsZero() || now.Sub(b.logged) >= logWindow || now.Before(b.logged) {
			report, b.refused, b.logged = b.refused, 0, now
		}
	}
	l.buckets[k] = b
	if now.Sub(l.lastSweep) > time.Minute || len(l.buckets) > maxBuckets {
		l.sweepLocked(now)
	}
	return allowed, report
}

// sweepLocked drops the buckets that have refilled: they hold no state a
// new bucket would not.
func (l *rateLimiter) sweepLocked(now time.Time) {
	l.lastSweep = now
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, k)
		}
	}
}

// valueRetryAfter tells a rate-limited client when to try again.
var valueRetryAfter = []string{"1"}

// allowRate answers 429 to a caller over its rate, before any other work
// is done for it, and reports whether the request may go on.
func (s *Server) allowRate(w http.ResponseWriter, r *http.Request, ci *connInfo, now time.Time) bool {
	allowed, report := s.limiter.allow(ci.key, now)
	if allowed {
		return true
	}
	s.counters.rateLimited.Add(1)
	if report > 0 {
		s.logs.rateLimited.logf(attrCaller, ci.key.String(), attrClient, r.RemoteAddr, "refused", report, "within", logWindow.String())
	}
	w.Header()["Retry-After"] = valueRetryAfter
	writeError(w, http.StatusTooManyRequests)
	return false
}

// ErrHopLimitUnsupported is returned by Run when Options.HopLimit is set on
// an OS where imdsd cannot set it.
var ErrHopLimitUnsupported = errors.New("hop limit is not supported on this OS")

// guardedListener applies the per-connection limits to accepted
// connections: the IP TTL / IPv6 hop limit of the sockets here, and, at
// each connection's first Read, its caller's identity and connection cap
// (gate, conngate.go). Every connection it returns is a *trackedConn, for
// the reaper (conn.go).
type guardedListener struct {
	net.Listener
	hopLimit   int
	onHopError func(net.Addr, error)
	gate       *connGate // nil: nothing to admit
	// reaper tracks the connections and keeps them under the global
	// limit (reaper.admit); nil leaves them to net/http's StateNew.
	reaper *reaper
	// onLimit is told of a connection admitted at the global limit:
	// victim is the idle one closed for it, nil when none was idle and
	// the new one is closed instead.
	onLimit func(c, victim *trackedConn)
}

// newConnGate returns the gate of one Serve call's listeners, nil when
// there is neither a cap nor an identity to find.
func (s *Server) newConnGate() *connGate {
	if s.opts.MaxConnsPerClient <= 0 && s.opts.ConnIdentity == nil {
		return nil
	}
	return &connGate{
		max:      s.opts.MaxConnsPerClient,
		wait:     s.connWait,
		identify: s.opts.ConnIdentity,
		after:    s.connAfter,
		refused:  &s.counters.connsRefused,
		evicted:  &s.counters.connsEvicted,
		onRefuse: func(ci *connInfo, report int) {
			s.logs.connCap.logf(attrCaller, ci.key.String(), attrClient, ci.remote.String(), "refused", report, "within", logWindow.String())
		},
		now:    s.now,
		groups: map[clientKey]*connGroup{},
	}
}

// wrapListener returns ln with the connection limits of s.opts, admitted
// by gate (shared by the listeners of one Serve call).
func (s *Server) wrapListener(ln net.Listener, gate *connGate) *guardedListener {
	return &guardedListener{
		Listener: ln,
		hopLimit: s.opts.HopLimit,
		onHopError: func(a net.Addr, err error) {
			s.logs.hopLimit.logf(attrClient, a.String(), "err", err)
		},
		gate:    gate,
		onLimit: s.onConnLimit,
	}
}

// onConnLimit counts and logs (within its line budget) a connection
// accepted at the global limit, Options.MaxConns.
func (s *Server) onConnLimit(c, victim *trackedConn) {
	if victim != nil {
		s.counters.connsShed.Add(1)
		s.logs.connLimit.logf(attrClient, c.info.remote.String(), "closed_idle", victim.info.remote.String(), "max_conns", s.opts.MaxConns)
		return
	}
	s.counters.connsFull.Add(1)
	s.logs.connLimit.logf(attrClient, c.info.remote.String(), "closed_idle", "none: every connection is in a request; this one closed", "max_conns", s.opts.MaxConns)
}

// Accept returns the next connection, tracked by the reaper under the
// global connection limit, which may close the idle connection open
// longest to make room for it (reaper.admit). An accept error is returned as it
// is: http.Server retries only a net.Error that is Temporary (EMFILE,
// ENFILE), and would end Serve, and Run, on a wrapped one
// (TestServer_SurvivesEMFILE). The connection cap is not applied here but
// at the connection's first Read, on its own goroutine: a caller's wait
// for a slot, or the lookup of who it is, never holds up the accept loop
// for the others.
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
		tc := &trackedConn{Conn: c, info: newConnInfo(c), gate: l.gate}
		if l.reaper != nil {
			ok, victim := l.reaper.admit(tc)
			if victim != nil || !ok {
				l.onLimit(tc, victim)
			}
			if victim != nil {
				_ = victim.Close()
			}
			if !ok {
				// Every connection is in a request: none is shed.
				c.Close()
				continue
			}
		}
		if l.gate != nil && l.gate.max > 0 {
			tc.limits = l.gate
		}
		return tc, nil
	}
}
