//go:build unix

package testproc

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestBuffer_ConcurrentWrites(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fmt.Fprintf(&b, "line %d\n", i)
			_ = b.String()
		}()
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 8 {
		t.Fatalf("got %d lines, want 8:\n%s", n, b.String())
	}
}

func TestFreePort_Listenable(t *testing.T) {
	port := FreePort(t)
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("listen on the free port %d: %v", port, err)
	}
	ln.Close()
}

func TestProc_OutputAndExitCode(t *testing.T) {
	p, err := Start(exec.Command("sh", "-c", "echo out; echo err >&2; exit 3"))
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if got := p.ExitCode(); got != 3 {
		t.Errorf("exit code = %d, want 3", got)
	}
	if got := p.Out.String(); !strings.Contains(got, "out\n") || !strings.Contains(got, "err\n") {
		t.Errorf("output = %q, want stdout and stderr", got)
	}
}

func TestProc_StopSendsSIGTERM(t *testing.T) {
	p, err := Start(exec.Command("sh", "-c", "trap 'echo term; exit 0' TERM; echo ready; while :; do sleep 0.05; done"))
	if err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(p.Out.String(), "ready") {
		time.Sleep(10 * time.Millisecond)
	}
	code, err := p.Stop(30 * time.Second)
	if err != nil || code != 0 {
		t.Fatalf("Stop = %d, %v; want 0, nil\n%s", code, err, p.Out)
	}
	if !strings.Contains(p.Out.String(), "term") {
		t.Errorf("the trap did not run: %q", p.Out.String())
	}
}

func TestProc_KillReachesGroup(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 300 & echo $!; wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	var child int
	for child == 0 {
		fmt.Sscan(p.Out.String(), &child)
		time.Sleep(10 * time.Millisecond)
	}
	p.Kill()
	p.Kill() // a second call returns at once
	if !p.Exited() {
		t.Fatal("process not exited after Kill")
	}
	for range 100 {
		if syscall.Kill(child, 0) != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("child %d of the group still alive after Kill", child)
}
