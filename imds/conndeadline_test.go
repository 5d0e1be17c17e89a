package imds

import (
	"bufio"
	"errors"
	"github.com/imdsd/imdsd/internal/testutil"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// socketCounter counts what reaches the socket under a trackedConn.
type socketCounter struct {
	// none and set count the socket's deadline calls by kind ("none", or
	// a time); oneByteReads counts net/http's background reads.
	none, set, oneByteReads atomic.Int64
}

func (n *socketCounter) deadline(t time.Time) {
	if t.IsZero() {
		n.none.Add(1)
	} else {
		n.set.Add(1)
	}
}

type countingListener struct {
	net.Listener
	n *socketCounter
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, n: l.n}, nil
}

type countingConn struct {
	net.Conn
	n *socketCounter
}

func (c *countingConn) Read(p []byte) (int, error) {
	if len(p) == 1 {
		c.n.oneByteReads.Add(1)
	}
	return c.Conn.Read(p)
}

func (c *countingConn) SetDeadline(t time.Time) error {
	c.n.deadline(t)
	return c.Conn.SetDeadline(t)
}

func (c *countingConn) SetReadDeadline(t time.Time) error {
	c.n.deadline(t)
	return c.Conn.SetReadDeadline(t)
}

func (c *countingConn) SetWriteDeadline(t time.Time) error {
	c.n.deadline(t)
	return c.Conn.SetWriteDeadline(t)
}

// TestConn_DeadlinesStayOffTheSocket serves keep-alive requests over a
// real socket and counts the deadline calls that reach it. net/http makes
// six per request; the only ones that may reach the socket are the two
// that stop a background read (net/http's one-byte read) that was in the
// socket. This also guards the assumptions conndeadline.go makes of
// net/http: should a Go release change them, the counts or the answers
// here change.
func TestConn_DeadlinesStayOffTheSocket(t *testing.T) {
	s, _ := newTestServer(t, Options{Source: staticSource(Role{}, ErrNoRole), Now: time.Now})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &socketCounter{}
	addr, stop := runServerOn(t, s, countingListener{ln, n})
	c := dialServer(t, addr)
	br := bufio.NewReader(c)
	const requests = 50
	for i := range requests {
		if _, err := io.WriteString(c, "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Fatalf("request %d: status %d, body %q", i, resp.StatusCode, body)
		}
	}
	// The server's shutdown waits for the last request to be done with
	// its background read, so the counts below are final.
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	none, set, background := n.none.Load(), n.set.Load(), n.oneByteReads.Load()
	t.Logf("%d requests: %d deadlines set and %d cleared on the socket, %d background reads in it", requests, set, none, background)
	if set > background {
		t.Errorf("%d deadlines set on the socket for %d background reads in it; want one at most per background read", set, background)
	}
	if none > set {
		t.Errorf("%d \"no deadline\" calls reached the socket, %d deadlines were set there; want one at most per deadline set (net/http makes 5 per request)", none, set)
	}
}

// TestConn_PipelinedRequests: requests sent back to back in one write are
// all answered, in order, on the one connection.
func TestConn_PipelinedRequests(t *testing.T) {
	s, _ := newTestServer(t, Options{Source: staticSource(Role{}, ErrNoRole), Now: time.Now})
	addr, _ := runServer(t, s)
	c := dialServer(t, addr)
	paths := []string{PathInstanceID, "/latest/meta-data/nope", PathInstanceID, "/latest/meta-data/"}
	var batch strings.Builder
	for _, p := range paths {
		batch.WriteString("GET " + p + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	}
	if _, err := io.WriteString(c, batch.String()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for i, want := range []int{200, 404, 200, 200} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d of %d pipelined requests: %v", i+1, len(paths), err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("answer %d (%s): status %d, want %d", i+1, paths[i], resp.StatusCode, want)
		}
	}
}

// TestConn_PastDeadline: a read deadline in the past fails Reads at once
// without touching the socket, and clearing it lets them through again.
func TestConn_PastDeadline(t *testing.T) {
	srv, cli := pipeConn(t)
	if err := srv.SetReadDeadline(time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	if srv.readSet.Load() {
		t.Fatal("a past deadline with no Read in the socket was set on the socket; want it kept in the conn")
	}
	if _, err := srv.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read after a past deadline: err = %v, want os.ErrDeadlineExceeded", err)
	}
	var ne net.Error
	if _, err := srv.Read(make([]byte, 8)); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read after a past deadline: err = %v, want a net.Error with Timeout (net/http tests for it)", err)
	}
	if err := srv.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = cli.Write([]byte("ok")) }()
	buf := make([]byte, 8)
	n, err := srv.Read(buf)
	if err != nil || string(buf[:n]) != "ok" {
		t.Fatalf("Read after the deadline was cleared: %q, %v", buf[:n], err)
	}
}

// TestConn_PastDeadlineWakesPendingRead: a Read waiting in the socket is
// woken by a past deadline, as it would be without the wrapper.
func TestConn_PastDeadlineWakesPendingRead(t *testing.T) {
	srv, _ := pipeConn(t)
	done := make(chan error, 1)
	go func() { _, err := srv.Read(make([]byte, 8)); done <- err }()
	testutil.WaitFor(t, 10*time.Second, func() bool { return srv.reading.Load() != 0 }, "the Read in the socket")
	if err := srv.SetReadDeadline(time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	wantDeadlineExceeded(t, done, "Read in the socket after a past deadline")
}

// TestConn_FutureDeadlineReachesSocket: a deadline that is neither "none"
// nor in the past is the socket's to enforce.
func TestConn_FutureDeadlineReachesSocket(t *testing.T) {
	srv, _ := pipeConn(t)
	if err := srv.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := srv.Read(make([]byte, 8)); done <- err }()
	wantDeadlineExceeded(t, done, "Read past a deadline set on the socket")
	// "None" now clears the socket's deadline: a Read waits again.
	if err := srv.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if srv.readSet.Load() {
		t.Fatal("deadline cleared but still marked set on the socket")
	}
}

// wantDeadlineExceeded waits up to 10 s (a bound that fails the test, not a
// timing assertion) for a Read's error on done and wants it to be
// os.ErrDeadlineExceeded.
func wantDeadlineExceeded(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%s: err = %v, want os.ErrDeadlineExceeded", what, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: still blocked after 10 s", what)
	}
}
