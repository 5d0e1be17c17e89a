package service

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childEnv marks the re-executed test binary that plays the daemon.
const childEnv = "IMDSD_SERVICE_TEST_CHILD"

// TestMain lets the test binary run as a daemon child: it runs Service.Run
// with a daemon that waits for its context, says "ready", and on
// cancellation says "stopped cleanly".
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(child())
	}
	os.Exit(m.Run())
}

func child() int {
	// Absorb a SIGTERM that comes before Run's own handler is in place
	// (the test repeats it), so that it cannot kill the child by default.
	absorb := make(chan os.Signal, 8)
	signal.Notify(absorb, syscall.SIGTERM)
	s, err := New(context.Background(), func(ctx context.Context) error {
		fmt.Println("ready")
		<-ctx.Done()
		fmt.Println("stopped cleanly")
		return nil
	}, Options{Name: "imdsd-unit-test", Logger: discard()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := s.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestService_RunStopsOnSIGTERM: a service manager stops the daemon with
// SIGTERM; Run must cancel the daemon's context, wait for it, and return
// nil, so the process exits 0.
func TestService_RunStopsOnSIGTERM(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	var out strings.Builder
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := stdout.Read(buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("child: got %q, %v; want ready", buf, err)
	}
	// SIGTERM, repeated until the child exits: Run's handler may not be
	// in place for the first one (the child absorbs those).
	exited := make(chan error, 1)
	rest := make([]byte, 64)
	var n int
	go func() {
		n, _ = stdout.Read(rest)
		exited <- cmd.Wait()
	}()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(20 * time.Second)
	for {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err = <-exited:
		case <-tick.C:
			continue
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatal("child did not exit on SIGTERM")
		}
		break
	}
	if err != nil {
		t.Fatalf("child exit: %v (stderr %q), want 0", err, out.String())
	}
	if got := string(rest[:n]); got != "stopped cleanly\n" {
		t.Errorf("child output after SIGTERM: got %q, want %q", got, "stopped cleanly\n")
	}
}
