package service

import (
	"context"
	"errors"
	"testing"
)

// TestService_RunEndsWhenDaemonFails runs the real kardianos manager of
// this machine (it touches nothing of the system to Run): a daemon that
// fails by itself must end Run with its error, not leave the process
// waiting for a signal that no manager will send.
func TestService_RunEndsWhenDaemonFails(t *testing.T) {
	boom := errors.New("listen 127.0.0.1:80: permission denied")
	s, err := New(context.Background(), func(context.Context) error { return boom },
		Options{Name: "imdsd-unit-test", Logger: discard()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Run(); !errors.Is(err, boom) {
		t.Errorf("Run: got %v, want %v", err, boom)
	}
}

func TestService_RunCleanExit(t *testing.T) {
	s, err := New(context.Background(), func(context.Context) error { return context.Canceled },
		Options{Name: "imdsd-unit-test", Logger: discard()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Run(); err != nil {
		t.Errorf("Run: got %v, want nil", err)
	}
}
