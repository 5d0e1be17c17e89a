// Package motoserver starts a real local STS for tests: moto's server
// (moto_server), bound to a free loopback port. A test that needs it and
// cannot find it fails with a message saying what to install; it never
// passes by skipping.
package motoserver

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a running moto_server.
type Server struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:40123.
	URL  string
	Port int
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs strings.Builder
}

// installHint tells what to install when moto_server is missing.
const installHint = "moto_server not found on PATH: install it with `pip install 'moto[server]'` (scripts/test.sh does this)"

// Start starts moto_server on a free loopback port and stops it when the
// test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := start()
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

func start() (*Server, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, fmt.Errorf("%s", installHint)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port), Port: port, cmd: cmd}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", filepath.Base(bin), err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.mu.Lock()
			s.logs.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
		}
	}()
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
func (s *Server) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

// Stop kills moto_server and its children.
func (s *Server) Stop() {
	if s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	_ = s.cmd.Wait()
}

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

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
