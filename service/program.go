package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	kservice "github.com/kardianos/service"
)

// DefaultStopTimeout bounds how long Stop waits for Run to return.
const DefaultStopTimeout = 10 * time.Second

// errStopTimeout is returned by Stop when Run outlives the timeout.
var errStopTimeout = errors.New("service did not stop in time")

// program implements kardianos' Interface around a Run(ctx) function.
type program struct {
	run     func(ctx context.Context) error
	timeout time.Duration
	log     *slog.Logger
	parent  context.Context

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns
	err    error         // run's result, valid once done is closed
}

var _ kservice.Interface = (*program)(nil)

func newProgram(ctx context.Context, run func(context.Context) error, timeout time.Duration, log *slog.Logger) *program {
	if timeout <= 0 {
		timeout = DefaultStopTimeout
	}
	return &program{run: run, timeout: timeout, log: log, parent: ctx, done: make(chan struct{})}
}

// Start launches run in a goroutine and returns at once.
func (p *program) Start(kservice.Service) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cancel != nil {
		return errors.New("service already started")
	}
	ctx, cancel := context.WithCancel(p.parent)
	p.cancel = cancel
	go func() {
		err := p.run(ctx)
		if errors.Is(err, context.Canceled) {
			err = nil // cancellation is a normal stop
		}
		p.err = err
		close(p.done)
	}()
	return nil
}

// Stop cancels run's context and waits for it to return, at most the
// timeout. It returns run's error, so a failure reaches the manager.
func (p *program) Stop(kservice.Service) error {
	p.mu.Lock()
	cancel := p.cancel
	p.mu.Unlock()
	if cancel == nil {
		return nil // never started
	}
	cancel()
	t := time.NewTimer(p.timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return p.err
	case <-t.C:
		p.log.Error("stop timed out", "timeout", p.timeout)
		return fmt.Errorf("%w: still running after %s", errStopTimeout, p.timeout)
	}
}

// Done is closed when run has returned.
func (p *program) Done() <-chan struct{} { return p.done }
