// Package motoserver starts a real local STS for tests: moto's server
// (moto_server), bound to a free loopback port. A test that needs it and
// cannot find it fails with a message saying what to install; it never
// passes by skipping.
package motoserver

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imdsd/imdsd/internal/testproc"
)

// Server is a running moto_server.
type Server struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:40123.
	URL  string
	Port int
	proc *testproc.Proc
}

// installHint tells what to install when moto_server is missing.
const installHint = "moto_server not found on PATH: install it with `pip install 'moto[server]'` (scripts/test.sh does this)"

// Start starts moto_server on a free loopback port and stops it when the
// test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return StartPort(tb, 0)
}

// StartPort starts moto_server on port (a free one when 0), e.g. again on
// the port of a Server the test stopped, and stops it when the test ends.
func StartPort(tb testing.TB, port int) *Server {
	tb.Helper()
	if port == 0 {
		port = testproc.FreePort(tb)
	}
	s, err := start(port)
	if err != nil {
		tb.Fatalf("start moto_server: %v", err)
	}
	tb.Cleanup(func() {
		s.Stop()
		if tb.Failed() {
			tb.Logf("moto_server output:\n%s", s.Logs())
		}
	})
	return s
}

func start(port int) (*Server, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, fmt.Errorf("%s", installHint)
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	testproc.NewGroup(cmd) // Stop reaches moto's children too
	proc, err := testproc.Start(cmd)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", filepath.Base(bin), err)
	}
	s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port), Port: port, proc: proc}
	if err := s.waitReady(30 * time.Second); err != nil {
		s.Stop()
		return nil, fmt.Errorf("%w\n%s", err, s.Logs())
	}
	return s, nil
}

// waitReady polls until moto answers.
func (s *Server) waitReady(limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/moto-api/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("moto_server did not answer on %s within %s", s.URL, limit)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Logs returns what moto_server printed so far.
func (s *Server) Logs() string { return s.proc.Out.String() }

// Stop kills moto_server and its children; it may be called more than
// once.
func (s *Server) Stop() { s.proc.Kill() }

// STSCalls counts the STS requests moto has logged (one access-log line
// per POST to /). moto writes the line after it has sent the response, so
// the count is read until it holds still across a short settle period.
func (s *Server) STSCalls() int {
	n := s.countCalls()
	for range 20 {
		time.Sleep(50 * time.Millisecond)
		m := s.countCalls()
		if m == n {
			return n
		}
		n = m
	}
	return n
}

func (s *Server) countCalls() int {
	n := 0
	for _, line := range strings.Split(s.Logs(), "\n") {
		if strings.Contains(line, `"POST / HTTP`) {
			n++
		}
	}
	return n
}
