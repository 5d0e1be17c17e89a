// Package testproc runs subprocesses for tests: a free loopback port to
// give them, a buffer their output goes to while the test reads it, and a
// process handle that waits in the background and stops with SIGTERM or
// SIGKILL.
package testproc

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Buffer is an io.Writer that subprocess output goes to while the test
// reads it; it is safe for concurrent use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call.
func FreePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Proc is a started subprocess whose output goes to Out.
type Proc struct {
	Cmd  *exec.Cmd
	Out  *Buffer
	done chan struct{} // closed when the process has exited
}

// Start starts cmd with its stdout and stderr going to a new Buffer and
// waits for it in the background. Set cmd.SysProcAttr.Setpgid for Kill to
// reach the process's children too.
func Start(cmd *exec.Cmd) (*Proc, error) {
	p := &Proc{Cmd: cmd, Out: &Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Out, p.Out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ExitCode is the process's exit code once Done is closed (-1 when a
// signal ended it).
func (p *Proc) ExitCode() int { return p.Cmd.ProcessState.ExitCode() }

// Stop sends SIGTERM and waits up to limit for the exit code; past the
// limit it kills the process and reports an error.
func (p *Proc) Stop(limit time.Duration) (int, error) {
	if p.Exited() {
		return p.ExitCode(), nil
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.ExitCode(), nil
	case <-time.After(limit):
		p.Kill()
		return -1, fmt.Errorf("did not exit within %s of SIGTERM; killed", limit)
	}
}

// Kill sends SIGKILL, to the whole process group when the process leads
// one (its children may outlive it), and waits for the exit. It may be
// called more than once.
func (p *Proc) Kill() {
	if !killGroup(p.Cmd) && !p.Exited() {
		_ = p.Cmd.Process.Kill()
	}
	<-p.done
}
