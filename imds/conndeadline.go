package imds

import (
	"errors"
	"os"
	"time"
)

// net/http moves a connection's read deadline six times per request with
// none of its timeouts set (conn.go): five times to "none" and once, to stop
// the one-byte read it runs in the background while a handler runs, to a
// time long past. Each call takes the socket's poller lock; the past one
// also reads the clock and arms a timer, and the background read itself is
// a read system call that returns EAGAIN and parks a goroutine. Together
// about a tenth of the server's CPU per credential GET
// (docs/BENCHMARKS.md). A trackedConn keeps all of it off the socket:
//
//   - A deadline of "none" on a socket that has none is a no-op.
//   - A deadline in the past (before pastDeadline) while no Read is in the
//     socket is kept here: Reads fail with os.ErrDeadlineExceeded until it
//     is cleared, as the socket's would. With a Read in the socket it is
//     set on the socket, which wakes that Read.
//   - net/http's background read (a one-byte Read while the connection is
//     in a request) returns 0, nil at once. It exists to notice a client
//     that hangs up while a handler runs, and bytes of a pipelined request;
//     imdsd's handlers answer from memory in microseconds, and the bytes
//     stay in the socket for the next request's read. net/http handles a
//     0, nil result as "nothing read" (TestConn_* guard this).

// pastDeadline: a deadline before it is in the past without reading the
// clock. net/http's own "stop now" deadline is time.Unix(1, 0).
var pastDeadline = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Read reads from the connection. Bytes arriving on an idle connection
// start a request: the connection is marked as reading headers, with the
// reaper's tick, which is an atomic load rather than a clock read.
func (c *trackedConn) Read(p []byte) (int, error) {
	if len(p) == 1 && c.mark.Load()&markKinds == markActive {
		return 0, nil // net/http's background read (above)
	}
	c.reading.Add(1)
	if c.readPast.Load() {
		c.reading.Add(-1)
		return 0, os.ErrDeadlineExceeded
	}
	n, err := c.Conn.Read(p)
	c.reading.Add(-1)
	if n > 0 && c.clock != nil && c.mark.Load()&markKinds == markIdle {
		c.mark.Store(c.clock.Load()<<markShift | markHeader)
	}
	return n, err
}

// SetReadDeadline sets the read deadline, on the socket only when it must.
func (c *trackedConn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		c.readPast.Store(false)
		if !c.readSet.Swap(false) {
			return nil
		}
		return c.Conn.SetReadDeadline(t)
	}
	if t.Before(pastDeadline) {
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
		if !c.writeSet.Swap(false) {
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
