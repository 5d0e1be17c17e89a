package containers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Defaults.
const (
	// DefaultTTL is how often the container list is read again even when no
	// event came.
	DefaultTTL = 30 * time.Second
	// DefaultMissWait bounds how long a lookup of an unknown address waits
	// for the engines to list it. A container's process can run before its
	// engine lists it as running (its network settings are published
	// after), and botocore gives IMDS a single attempt of 1 s.
	DefaultMissWait = 700 * time.Millisecond
	// relistGap spaces the lists one lookup asks for.
	relistGap = 25 * time.Millisecond
	// retryMax caps the wait between reconnections to an engine.
	retryMax = 5 * time.Second
)

// DefaultSockets are the engine sockets watched when none is configured:
// Docker's and rootful podman's.
var DefaultSockets = []string{"/var/run/docker.sock", "/run/podman/podman.sock"}

// Errors of Lookup.
var (
	// ErrUnknown: no running container of any engine has the address.
	ErrUnknown = errors.New("no running container has this address")
	// ErrUnreachable: an engine could not be asked, so the address may be
	// one of its containers.
	ErrUnreachable = errors.New("container engine not reachable")
)

// Options configure a [Resolver].
type Options struct {
	// Sockets are the engines' unix sockets; DefaultSockets when empty.
	Sockets  []string
	TTL      time.Duration
	MissWait time.Duration
	Logger   *slog.Logger
}

// Resolver finds the container of an address. Run keeps it current.
type Resolver struct {
	opts    Options
	log     *slog.Logger
	engines []*engine
}

// New returns a Resolver; it connects to nothing until Run.
func New(opts Options) *Resolver {
	if len(opts.Sockets) == 0 {
		opts.Sockets = DefaultSockets
	}
	if opts.TTL == 0 {
		opts.TTL = DefaultTTL
	}
	if opts.MissWait == 0 {
		opts.MissWait = DefaultMissWait
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	r := &Resolver{opts: opts, log: opts.Logger.With("component", "containers")}
	for _, s := range opts.Sockets {
		r.engines = append(r.engines, newEngine(s, opts.TTL, r.log.With("engine", s)))
	}
	return r
}

// Run watches every engine until ctx ends; it returns nil then.
func (r *Resolver) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, e := range r.engines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.run(ctx)
		}()
	}
	wg.Wait()
	return nil
}

// Lookup returns the running container that has addr. When no engine knows
// it, Lookup asks every engine for a fresh list and waits for it up to
// Options.MissWait. The error wraps ErrUnknown or ErrUnreachable.
func (r *Resolver) Lookup(ctx context.Context, addr netip.Addr) (Container, error) {
	addr = addr.Unmap()
	if c, ok := r.find(addr); ok {
		return c, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.MissWait)
	defer cancel()
	for ctx.Err() == nil {
		var wg sync.WaitGroup
		for _, e := range r.engines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e.relist(ctx)
			}()
		}
		wg.Wait()
		if c, ok := r.find(addr); ok {
			return c, nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(relistGap):
		}
	}
	var down []string
	for _, e := range r.engines {
		if err := e.health(); err != nil && !errors.Is(err, errNotInstalled) {
			down = append(down, e.socket+": "+err.Error())
		}
	}
	if len(down) > 0 {
		return Container{}, fmt.Errorf("%s: %w (%s)", addr, ErrUnreachable, strings.Join(down, "; "))
	}
	return Container{}, fmt.Errorf("%s: %w", addr, ErrUnknown)
}

func (r *Resolver) find(addr netip.Addr) (Container, bool) {
	for _, e := range r.engines {
		if c, ok := e.find(addr); ok {
			return c, true
		}
	}
	return Container{}, false
}
