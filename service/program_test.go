package service

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestProgram_StartReturnsAtOnceStopCancels(t *testing.T) {
	started := make(chan struct{})
	p := newProgram(context.Background(), func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	}, time.Minute, discard())
	if err := p.Start(nil); err != nil {
		t.Fatalf("Start: %v", err)
	}
	<-started // Start returned while run still blocks on ctx
	select {
	case <-p.Done():
		t.Fatal("run returned before Stop")
	default:
	}
	if err := p.Stop(nil); err != nil {
		t.Errorf("Stop: got %v, want nil (cancellation is a normal stop)", err)
	}
	select {
	case <-p.Done():
	default:
		t.Error("Stop returned before run did")
	}
}

func TestProgram_StopReturnsRunError(t *testing.T) {
	boom := errors.New("listen 169.254.169.254:80: address in use")
	p := newProgram(context.Background(), func(ctx context.Context) error { return boom }, time.Minute, discard())
	if err := p.Start(nil); err != nil {
		t.Fatalf("Start: %v", err)
	}
	<-p.Done()
	if err := p.Stop(nil); !errors.Is(err, boom) {
		t.Errorf("Stop: got %v, want %v", err, boom)
	}
}

func TestProgram_StopTimesOut(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	p := newProgram(context.Background(), func(ctx context.Context) error {
		<-release // ignores cancellation
		return nil
	}, time.Millisecond, discard())
	if err := p.Start(nil); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := p.Stop(nil); !errors.Is(err, errStopTimeout) {
		t.Errorf("Stop: got %v, want %v", err, errStopTimeout)
	}
}

func TestProgram_StartTwice(t *testing.T) {
	p := newProgram(context.Background(), func(ctx context.Context) error { <-ctx.Done(); return nil }, time.Minute, discard())
	if err := p.Start(nil); err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer p.Stop(nil)
	if err := p.Start(nil); err == nil {
		t.Error("second Start: got nil, want an error")
	}
}

func TestProgram_StopBeforeStart(t *testing.T) {
	p := newProgram(context.Background(), func(context.Context) error { return nil }, time.Minute, discard())
	if err := p.Stop(nil); err != nil {
		t.Errorf("Stop before Start: got %v, want nil", err)
	}
}
