package imds

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Connection timeouts. net/http enforces ReadHeaderTimeout, ReadTimeout,
// WriteTimeout and IdleTimeout with socket deadlines it sets on every
// request, which cost clock reads and runtime timer updates each time
// (ReadHeaderTimeout alone: two clock reads, a timer set and a timer
// cleared per request; about 3 % of the credential GET's server CPU,
// docs/BENCHMARKS.md). imdsd sets none of them and enforces all four with
// a coarse reaper instead: a connection that takes longer than
// DefaultReadHeaderTimeout to send a request's headers (counted from its
// first byte, or from accept for the first request), is in a request for
// longer than DefaultActiveTimeout (a slow request body, a client that
// stops reading answers) or is idle for longer than DefaultIdleTimeout is
// closed, give or take reaperTick.
const (
	DefaultActiveTimeout = 5 * time.Second
	reaperTick           = time.Second
)

// The state a connection's mark records, in its low two bits; the rest is
// the reaper's tick when the state began.
const (
	markIdle   = 0 // between requests
	markActive = 1 // in a request (net/http's StateActive)
	markHeader = 2 // reading a request's headers
	markNew    = 3 // accepted, no byte of its first request read yet
	markShift  = 2
	markMask   = 1<<markShift - 1 // the kind bits
)

// connKey is the context key of a connection's *connInfo.
type connKey struct{}

// connInfo is what the server knows of one connection, found once when it
// is accepted rather than on each request: the client's and the local
// address, unmapped (::ffff:a.b.c.d is a.b.c.d), and who the caller is.
type connInfo struct {
	remote, local netip.AddrPort
	// key is who the limits and the audit count the connection's
	// requests against (clientKey). The connection's gate sets it at its
	// first Read (conngate.go), before any request is read; it is the
	// remote address until then, and for a handler called without the
	// server's listeners.
	key clientKey
	// okHost is the last Host header that passed the allowlist on this
	// connection (security.go); clients send the same one every time.
	// Only the connection's own goroutine touches it: HTTP/1 serves one
	// request at a time per connection.
	okHost string
}

func newConnInfo(c net.Conn) *connInfo {
	ci := &connInfo{}
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ci.remote = unmapPort(a.AddrPort())
	}
	if a, ok := c.LocalAddr().(*net.TCPAddr); ok {
		ci.local = unmapPort(a.AddrPort())
	}
	ci.key = clientKey{addr: ci.remote.Addr()}
	return ci
}

func unmapPort(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// connOf returns r's connection info: the one parsed at accept when r came
// through the server's own http.Server, or one parsed from r's fields (a
// handler called by a test or by another server).
func connOf(r *http.Request) *connInfo {
	if ci, ok := r.Context().Value(connKey{}).(*connInfo); ok {
		return ci
	}
	ci := &connInfo{}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		ci.remote = unmapPort(ap)
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if ta, ok := a.(*net.TCPAddr); ok {
			ci.local = unmapPort(ta.AddrPort())
		}
	}
	ci.key = clientKey{addr: ci.remote.Addr()}
	return ci
}

// trackedConn is an accepted connection as the server's listeners return
// it: it gives its per-client slot back when closed, carries the reaper's
// mark (the state it is in and the tick it entered that state), and keeps
// net/http's per-request deadline calls off the socket (conndeadline.go).
type trackedConn struct {
	net.Conn
	info *connInfo
	// gate admits the connection at its first Read (conngate.go); nil
	// once it has, or when nothing is to be admitted. Only the
	// connection's goroutine reads or clears it: net/http starts its
	// background reads after the first Read returns.
	gate *connGate
	// limits is the gate the connection's slot belongs to, if it holds
	// one (slot); nil when no connection cap applies.
	limits *connGate
	slot   atomic.Bool
	closed atomic.Bool
	mark   atomic.Uint64  // tick<<markShift | markIdle, markActive or markHeader
	clock  *atomic.Uint64 // the reaper's tick count; set before the first Read
	// seq is the connection's place in accept order (reaper.admit): of
	// two connections idle since the same tick, the lower is shed first.
	seq uint64

	// Deadlines (conndeadline.go).
	readSet, writeSet atomic.Bool  // a deadline is set on the socket
	readPast          atomic.Bool  // a read deadline in the past, kept here
	reading           atomic.Int32 // Reads in the socket now
}

// Close closes the connection and gives its slot back (once, however often
// Close is called).
func (c *trackedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) && c.limits != nil {
		c.limits.release(c)
	}
	return c.Conn.Close()
}

// idle reports whether the connection is between requests, kept alive by
// its client after at least one request.
func (c *trackedConn) idle() bool {
	return c.clock != nil && c.mark.Load()&markMask == markIdle && !c.closed.Load()
}

// sheddable reports whether the global connection limit may close c for
// a new connection (reaper.admit): c is idle between requests, or was
// accepted and has sent no byte yet. A connection in a request, its
// headers included, is never shed.
func sheddable(m uint64) bool {
	k := m & markMask
	return k == markIdle || k == markNew
}

// reaper closes connections that stay too long in a request or idle, and
// keeps the connections of one Serve call under a global limit (max,
// Options.MaxConns; admit). A connection's state changes cost one atomic
// store of the current tick; the reaper's goroutine runs only while
// connections are open, once a reaperTick.
type reaper struct {
	limits [markMask + 1]uint64 // ticks, by mark kind
	tick   time.Duration
	// max is the most connections open at once; 0 is no limit.
	max int

	now atomic.Uint64 // ticks since the reaper was made

	mu      sync.Mutex
	conns   map[*trackedConn]struct{}
	seq     uint64 // connections admitted so far
	running bool
	stopped bool
	quit    chan struct{} // closed by stop
}

func newReaper(header, active, idle, tick time.Duration) *reaper {
	rp := &reaper{
		tick:  tick,
		conns: map[*trackedConn]struct{}{},
		quit:  make(chan struct{}),
	}
	rp.limits[markHeader] = uint64(header / tick)
	rp.limits[markActive] = uint64(active / tick)
	rp.limits[markIdle] = uint64(idle / tick)
	rp.limits[markNew] = rp.limits[markHeader]
	return rp
}

// connState is the http.Server's ConnState hook. Every connection comes
// from the server's own listeners (wrapListener), so every one is tracked.
func (rp *reaper) connState(c net.Conn, st http.ConnState) {
	tc, ok := c.(*trackedConn)
	if !ok {
		return
	}
	switch st {
	case http.StateNew:
		rp.add(tc) // unless its guardedListener admitted it
	case http.StateActive:
		tc.mark.Store(rp.now.Load()<<markShift | markActive)
	case http.StateIdle:
		tc.mark.Store(rp.now.Load()<<markShift | markIdle)
		if g := tc.limits; g != nil && g.waiting.Load() > 0 {
			g.idled(tc)
		}
	case http.StateHijacked, http.StateClosed:
		rp.remove(tc)
	}
}

func (rp *reaper) add(tc *trackedConn) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if _, ok := rp.conns[tc]; ok || tc.closed.Load() {
		return // admitted already, or shed before net/http saw it
	}
	rp.addLocked(tc)
}

func (rp *reaper) addLocked(tc *trackedConn) {
	// A new connection has the header limit to send its first request,
	// counted from now, as net/http's ReadHeaderTimeout counts from accept.
	// Both admit (in Accept) and net/http's StateNew run before the
	// connection's goroutine starts, so clock is set before its first Read.
	tc.clock = &rp.now
	tc.mark.Store(rp.now.Load()<<markShift | markNew)
	rp.seq++
	tc.seq = rp.seq
	rp.conns[tc] = struct{}{}
	if !rp.running && !rp.stopped {
		rp.running = true
		go rp.run()
	}
}

// admit tracks tc, a connection just accepted, under the global limit:
// with max connections open, the one idle longest (or, idle since the
// same tick, accepted first) is taken out to make room and returned, for
// the caller to close; an idle keep-alive client redials for its next
// request. If every open connection is in a request, none is shed and
// admit reports false: tc is to be closed unanswered. The scan costs one
// pass over the open connections, and only at the limit.
//
// A request can arrive on the victim between the scan and its Close; its
// client sees the connection closed before any answer, which the SDKs
// retry, as they do when a server closes an idle connection (net/http's
// own closeIdleConns has the same window).
func (rp *reaper) admit(tc *trackedConn) (ok bool, victim *trackedConn) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.max > 0 && len(rp.conns) >= rp.max {
		var vm uint64
		for c := range rp.conns {
			m := c.mark.Load()
			if !sheddable(m) || c.closed.Load() {
				continue
			}
			if victim == nil || m>>markShift < vm>>markShift || (m>>markShift == vm>>markShift && c.seq < victim.seq) {
				victim, vm = c, m
			}
		}
		if victim == nil {
			return false, nil
		}
		delete(rp.conns, victim)
	}
	rp.addLocked(tc)
	return true, victim
}

func (rp *reaper) remove(tc *trackedConn) {
	rp.mu.Lock()
	delete(rp.conns, tc)
	rp.mu.Unlock()
}

// stop ends the reaper's goroutine and keeps it from starting again.
func (rp *reaper) stop() {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if !rp.stopped {
		rp.stopped = true
		close(rp.quit)
	}
}

// run ticks until no connection is left (or stop), closing the overdue.
func (rp *reaper) run() {
	t := time.NewTicker(rp.tick)
	defer t.Stop()
	for {
		select {
		case <-rp.quit:
			return
		case <-t.C:
			if !rp.sweep() {
				return
			}
		}
	}
}

// sweep advances the clock one tick and closes the connections past their
// state's limit. It reports whether the reaper should keep running; when
// not, it has already marked itself stopped under the lock, so a
// connection added after that starts a new goroutine.
func (rp *reaper) sweep() bool {
	now := rp.now.Add(1)
	var overdue []*trackedConn
	rp.mu.Lock()
	if len(rp.conns) == 0 || rp.stopped {
		rp.running = false
		rp.mu.Unlock()
		return false
	}
	for tc := range rp.conns {
		m := tc.mark.Load()
		since, limit := m>>markShift, rp.limits[m&markMask]
		// Counted from the tick the state began in: a connection is
		// closed between limit and limit+1 ticks after.
		if now-since > limit {
			overdue = append(overdue, tc)
		}
	}
	rp.mu.Unlock()
	for _, tc := range overdue {
		_ = tc.Close()
	}
	return true
}

// connContext is the http.Server's ConnContext hook: it hands the
// connection's info, parsed once at accept, to its requests.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*trackedConn); ok && tc.info != nil {
		return context.WithValue(ctx, connKey{}, tc.info)
	}
	return context.WithValue(ctx, connKey{}, newConnInfo(c))
}
