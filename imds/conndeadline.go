package imds

import (
	"errors"
	"net"
	"os"
	"time"
)

// net/http moves a connection's read deadline six times per request with
// none of its timeouts set (conn.go): five times to "none" and once, to stop
// the one-byte read it runs in the background while a handler runs, to a
// time long past. Each call takes the socket's poller lock; the past one
// also reads the clock and arms a timer. A trackedConn keeps them off the
// socket when the socket has no use for them:
//
//   - A deadline of "none" on a socket that has none is a no-op.
//   - A deadline in the past (before pastDeadline) while no Read is in the
//     socket is kept here: Reads fail with os.ErrDeadlineExceeded at once,
//     without a system call, until it is cleared, as the socket's would.
//     With a Read in the socket it is set on the socket, which wakes that
//     Read.
//
// Under load, net/http's background read has usually not started when the
// handler is done and net/http stops it; it then finds the past deadline
// here and returns without the read system call (and the EAGAIN, and the
// poller wait) it would otherwise make. net/http's semantics are kept: a
// background read that did start is in the socket and is woken there.
// TestConn_* guard this.

// pastDeadline (2000-01-01, in Unix seconds): a deadline before it is in
// the past without reading the clock. net/http's own "stop now" deadline
// is time.Unix(1, 0).
const pastDeadline = 946684800

// Read reads from the connection. Bytes arriving on an idle connection
// start a request: the connection is marked as reading headers, with the
// reaper's tick, which is an atomic load rather than a clock read. A new
// connection's first bytes keep the tick of its accept.
func (c *trackedConn) Read(p []byte) (int, error) {
	if c.gate != nil {
		// The first Read, on the connection's own goroutine: who the
		// caller is, and its slot (conngate.go).
		g := c.gate
		c.gate = nil
		if !g.admit(c) {
			// A read error net/http takes for a client gone: it closes
			// the connection unanswered, rather than answer 400.
			return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: errOverCap}
		}
	}
	c.reading.Add(1)
	if c.readPast.Load() {
		c.reading.Add(-1)
		return 0, os.ErrDeadlineExceeded
	}
	n, err := c.Conn.Read(p)
	c.reading.Add(-1)
	if n > 0 && c.clock != nil {
		switch m := c.mark.Load(); m & markMask {
		case markIdle:
			c.mark.Store(c.clock.Load()<<markShift | markHeader)
		case markNew:
			// The first request's headers: counted from accept still.
			c.mark.Store(m&^markMask | markHeader)
		}
	}
	return n, err
}

// SetReadDeadline sets the read deadline, on the socket only when it must.
func (c *trackedConn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		// Loads first: a plain load is cheaper than a swap or a store,
		// and this is the call net/http makes five times per request.
		if c.readPast.Load() {
			c.readPast.Store(false)
		}
		if !c.readSet.Load() || !c.readSet.Swap(false) {
			return nil
		}
		return c.Conn.SetReadDeadline(t)
	}
	if t.Unix() < pastDeadline {
		// Stored before reading.Load, as Read adds to reading before it
		// loads readPast: a Read either sees the deadline here or is
		// seen in the socket and woken there.
		c.readPast.Store(true)
		if c.reading.Load() == 0 {
			return nil
		}
	}
	c.readSet.Store(true)
	return c.Conn.SetReadDeadline(t)
}

// SetWriteDeadline sets the write deadline; "none" on a socket that has
// none is a no-op.
func (c *trackedConn) SetWriteDeadline(t time.Time) error {
	if t.IsZero() {
		if !c.writeSet.Load() || !c.writeSet.Swap(false) {
			return nil
		}
		return c.Conn.SetWriteDeadline(t)
	}
	c.writeSet.Store(true)
	return c.Conn.SetWriteDeadline(t)
}

// SetDeadline sets both deadlines.
func (c *trackedConn) SetDeadline(t time.Time) error {
	return errors.Join(c.SetReadDeadline(t), c.SetWriteDeadline(t))
}
