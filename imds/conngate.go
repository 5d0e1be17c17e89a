package imds

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultConnWait bounds how long a connection over its caller's cap waits
// for a slot before it is closed: half the Go SDK's 500 ms response-header
// timeout (botocore and the JS SDK wait 1 s), so a request that waited is
// still answered in time. At most as many connections as the cap wait per
// caller; past that they are closed at once.
const DefaultConnWait = 250 * time.Millisecond

// errOverCap is what a connection's first Read returns when the connection
// found no slot under its caller's cap: net/http then closes it unanswered.
var errOverCap = errors.New("imds: client over its connection cap")

// connGate admits the connections of one Serve call: it finds each
// connection's caller once (Options.ConnIdentity) and keeps each caller
// under Options.MaxConnsPerClient. It runs on the connection's own
// goroutine, at its first Read, so neither the lookup nor a wait holds up
// the accept loop.
//
// A connection over its caller's cap is not closed at once, which made
// honest bursts fail (issue 15 item 2: 200 concurrent SDK fetches lost
// 18-38 % of their connections). It takes the slot of one of the caller's
// idle keep-alive connections, which is closed, as IdleTimeout would close
// it later (a client redials for its next request); if there is none, it
// waits, in order of arrival, for a slot of the same caller: the next of
// the caller's connections to close or to go idle (which is then closed)
// hands it its slot. The wait is bounded by wait (DefaultConnWait) and the
// number of waiters per caller by max; past either, the connection is
// closed unanswered. Another caller's connections are never touched.
type connGate struct {
	max      int // per caller; 0 is no cap
	wait     time.Duration
	identify func(remote, local netip.AddrPort) (string, bool)
	// after is the wait's timer; time.After, a seam for tests.
	after   func(time.Duration) <-chan time.Time
	refused *atomic.Uint64
	evicted *atomic.Uint64
	// onRefuse logs a refused connection's caller when report > 0: the
	// caller's refusals since its last line (once per logWindow).
	onRefuse func(ci *connInfo, report int)
	now      func() time.Time

	// waiting counts the connections waiting, of every caller: the one
	// atomic load a request pays for the queue (idled).
	waiting atomic.Int64

	mu     sync.Mutex
	groups map[clientKey]*connGroup
}

// connGroup is one caller's connections.
type connGroup struct {
	open    map[*trackedConn]struct{} // holding a slot
	waiters []waiter                  // in order of arrival
	// logged is when the caller's last refusal line was written,
	// refused the refusals since.
	logged  time.Time
	refused int
}

// waiter is a connection waiting for a slot; ch is closed when it is
// handed one.
type waiter struct {
	c  *trackedConn
	ch chan struct{}
}

// admit identifies c's caller and takes a slot for it, waiting if the
// caller is at its cap. It reports whether c may be served.
func (g *connGate) admit(c *trackedConn) bool {
	ci := c.info
	ci.key = identify(g.identify, ci.remote, ci.local)
	if g.max <= 0 {
		return true
	}
	ok, ch, victim := g.acquire(c)
	if victim != nil {
		// An idle keep-alive connection of the caller's, whose slot c
		// took: its client redials for its next request.
		g.evicted.Add(1)
		_ = victim.Close()
	}
	if ok {
		return true
	}
	if ch != nil {
		select {
		case <-ch:
			return g.handed(c)
		case <-g.after(g.wait):
			if !g.cancel(ci.key, ch) {
				return g.handed(c) // handed a slot as the wait ran out
			}
		}
	}
	g.refuse(ci)
	return false
}

// acquire takes a slot for c if its caller has one free, or takes the
// slot of one of the caller's idle connections, which it returns to be
// closed. If neither, and the caller's queue has room, it queues c and
// returns the channel closed when c is handed a slot.
func (g *connGate) acquire(c *trackedConn) (ok bool, ch chan struct{}, victim *trackedConn) {
	k := c.info.key
	g.mu.Lock()
	defer g.mu.Unlock()
	grp := g.groups[k]
	if grp == nil {
		grp = &connGroup{open: map[*trackedConn]struct{}{}}
		g.groups[k] = grp
	}
	if len(grp.open) < g.max {
		grp.open[c] = struct{}{}
		c.slot.Store(true)
		return true, nil, nil
	}
	for oc := range grp.open {
		// The swap fails if oc is closing already (its release is on
		// its way to give the slot back; it is not taken twice).
		if oc.idle() && oc.slot.CompareAndSwap(true, false) {
			delete(grp.open, oc)
			grp.open[c] = struct{}{}
			c.slot.Store(true)
			return true, nil, oc
		}
	}
	if len(grp.waiters) >= g.max {
		return false, nil, nil
	}
	ch = make(chan struct{})
	grp.waiters = append(grp.waiters, waiter{c: c, ch: ch})
	g.waiting.Add(1)
	return false, ch, nil
}

// idled is told that c went idle after a request. If a connection of the
// same caller waits for a slot, c is closed and its slot handed on: an
// honest client's keep-alive connection is cheaper to redial than a
// request is to fail.
func (g *connGate) idled(c *trackedConn) {
	g.mu.Lock()
	grp := g.groups[c.info.key]
	waits := grp != nil && len(grp.waiters) > 0
	g.mu.Unlock()
	if waits && c.slot.Load() {
		g.evicted.Add(1)
		_ = c.Close()
	}
}

// handed finishes the admission of c, handed a slot while it waited.
func (g *connGate) handed(c *trackedConn) bool {
	if c.closed.Load() {
		// Closed while it waited (the reaper, shutdown): give the slot
		// on, unless its Close already did.
		g.release(c)
		return false
	}
	return true
}

// cancel takes the waiter ch of k out of the queue after its wait ran
// out. It reports false if ch was no longer queued: it was handed a slot.
func (g *connGate) cancel(k clientKey, ch chan struct{}) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	grp := g.groups[k]
	if grp == nil {
		return false
	}
	for i, w := range grp.waiters {
		if w.ch == ch {
			grp.waiters = append(grp.waiters[:i], grp.waiters[i+1:]...)
			g.waiting.Add(-1)
			g.dropIfEmptyLocked(k, grp)
			return true
		}
	}
	return false
}

// release gives c's slot back, or hands it to the first waiter of c's
// caller. However often it is called, it gives a slot back once.
func (g *connGate) release(c *trackedConn) {
	if !c.slot.CompareAndSwap(true, false) {
		return
	}
	k := c.info.key
	g.mu.Lock()
	defer g.mu.Unlock()
	grp := g.groups[k]
	delete(grp.open, c)
	if len(grp.waiters) > 0 {
		w := grp.waiters[0]
		grp.waiters = grp.waiters[1:]
		g.waiting.Add(-1)
		grp.open[w.c] = struct{}{}
		w.c.slot.Store(true)
		close(w.ch)
		return
	}
	g.dropIfEmptyLocked(k, grp)
}

func (g *connGate) dropIfEmptyLocked(k clientKey, grp *connGroup) {
	if len(grp.open) == 0 && len(grp.waiters) == 0 {
		delete(g.groups, k)
	}
}

// refuse counts a connection closed over its caller's cap and has the
// caller logged once per logWindow, with its count.
func (g *connGate) refuse(ci *connInfo) {
	g.refused.Add(1)
	now := g.now()
	report := 1
	g.mu.Lock()
	if grp := g.groups[ci.key]; grp != nil {
		report = 0
		grp.refused++
		if grp.logged.IsZero() || now.Sub(grp.logged) >= logWindow || now.Before(grp.logged) {
			report, grp.refused, grp.logged = grp.refused, 0, now
		}
	}
	g.mu.Unlock()
	if report > 0 {
		g.onRefuse(ci, report)
	}
}
