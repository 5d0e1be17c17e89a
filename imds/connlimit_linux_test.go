package imds

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/imdsd/imdsd/internal/testutil"
)

// newLimitedServer runs a Server with MaxConns max whose credential
// requests block until release is closed (a connection in a request), and
// whose reaper never ticks, so every connection's mark has the same tick
// and only accept order tells the oldest (reaper.admit).
func newLimitedServer(t *testing.T, max int) (s *Server, addr string, release chan struct{}) {
	t.Helper()
	release = make(chan struct{})
	src := fakeSource{fn: func(ctx context.Context, _ Caller) (Role, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return Role{}, ErrNoRole
	}}
	s, _ = newTestServer(t, Options{Source: src, Now: time.Now, MaxConns: max})
	s.reaperTick, s.activeTimeout, s.idleTimeout, s.headerTimeout = time.Hour, 10*time.Hour, 10*time.Hour, 10*time.Hour
	addr, _ = runServer(t, s)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	return s, addr, release
}

// marks counts the tracked connections of s's last Serve call by state.
func marks(s *Server) (idle, active, fresh int) {
	rp := s.lastReaper.Load()
	if rp == nil {
		return 0, 0, 0
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	for c := range rp.conns {
		switch c.mark.Load() & markMask {
		case markIdle:
			idle++
		case markActive, markHeader:
			active++
		case markNew:
			fresh++
		}
	}
	return idle, active, fresh
}

func waitMarks(t *testing.T, s *Server, idle, active, fresh int) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, func() bool {
		i, a, f := marks(s)
		return i == idle && a == active && f == fresh
	}, fmt.Sprintf("%d idle, %d active and %d new connections tracked", idle, active, fresh))
}

// served sends one instance-id request on c and reads its whole answer.
func served(t *testing.T, c net.Conn) {
	t.Helper()
	send(t, c)
	if !answered(c) {
		t.Fatal("request not answered 200")
	}
	drain(t, c)
}

// blockOn sends a credential request on c, which the server's source
// holds until release.
func blockOn(t *testing.T, c net.Conn) {
	t.Helper()
	if _, err := io.WriteString(c, "GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// TestServer_MaxConnsShedsOldestIdle: at the global limit a new
// connection closes the idle connection that has been open longest and
// is served; the other idle connections stay open (issue 15 item 4).
func TestServer_MaxConnsShedsOldestIdle(t *testing.T) {
	const max = 3
	s, addr, _ := newLimitedServer(t, max)
	var conns []net.Conn
	for range max {
		c := dialServer(t, addr)
		served(t, c)
		conns = append(conns, c)
	}
	waitMarks(t, s, max, 0, 0)

	extra := dialServer(t, addr)
	served(t, extra)
	if !closedUnanswered(conns[0]) {
		t.Fatal("the oldest idle connection was not closed at the limit")
	}
	for _, c := range conns[1:] {
		served(t, c) // still open and served
	}
	st := s.SecurityStats()
	if st.ConnsShed != 1 || st.ConnsFull != 0 {
		t.Errorf("ConnsShed, ConnsFull = %d, %d; want 1, 0", st.ConnsShed, st.ConnsFull)
	}
}

// TestServer_MaxConnsNeverShedsActive: a connection in a request is never
// closed for a new one; a silent new connection is idle and is; with
// every connection in a request, the new one is closed instead.
func TestServer_MaxConnsNeverShedsActive(t *testing.T) {
	s, addr, release := newLimitedServer(t, 2)
	busy := dialServer(t, addr) // oldest, in a request
	blockOn(t, busy)
	waitMarks(t, s, 0, 1, 0)
	silent := dialServer(t, addr) // sends nothing
	waitMarks(t, s, 0, 1, 1)

	next := dialServer(t, addr)
	if !closedUnanswered(silent) {
		t.Fatal("the silent connection was not closed for the new one")
	}
	blockOn(t, next)
	waitMarks(t, s, 0, 2, 0)

	refused := dialServer(t, addr)
	if !closedUnanswered(refused) {
		t.Fatal("a new connection was served with every connection in a request")
	}
	close(release)
	for _, c := range []net.Conn{busy, next} {
		buf := make([]byte, 12)
		if n, err := io.ReadFull(c, buf); err != nil || string(buf[:n]) != "HTTP/1.1 404" {
			t.Errorf("connection in a request: got %q, %v; want its answer (404, no role)", buf[:n], err)
		}
	}
	st := s.SecurityStats()
	if st.ConnsShed != 1 || st.ConnsFull != 1 {
		t.Errorf("ConnsShed, ConnsFull = %d, %d; want 1, 1", st.ConnsShed, st.ConnsFull)
	}
}

// openConns counts the connections s's last Serve call tracks.
func openConns(s *Server) int {
	rp := s.lastReaper.Load()
	if rp == nil {
		return 0
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return len(rp.conns)
}
