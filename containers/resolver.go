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
	// relistGap is the least time between the starts of two lists of one
	// engine: lookups that wait for unknown addresses, and bursts of
	// events, share the lists rather than multiply them.
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
	Sockets []string
	// TTL is how often the engines are listed without an event, and the
	// longest an address is remembered as unknown; DefaultTTL when zero.
	TTL time.Duration
	// MissWait bounds the wait of a lookup of an unknown address;
	// DefaultMissWait when zero.
	MissWait time.Duration
	// OnStart, when set, learns of each container as its engine creates
	// and starts it, before its process runs and before any list shows
	// its address: the Container has its ID, name and labels, no Addrs.
	// The daemon fetches its role then. It must not block.
	OnStart func(Container)
	Logger  *slog.Logger
}

// Resolver finds the container of an address. Run keeps it current.
type Resolver struct {
	opts    Options
	log     *slog.Logger
	engines []*engine
	neg     *negative // addresses known to be no container

	missMu sync.Mutex
	misses map[netip.Addr]*miss // the wait in progress per unknown address
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
	r := &Resolver{
		opts:   opts,
		log:    opts.Logger.With("component", "containers"),
		neg:    newNegative(min(opts.TTL, negativeTTL), negativeMax),
		misses: make(map[netip.Addr]*miss),
	}
	for _, s := range opts.Sockets {
		r.engines = append(r.engines, newEngine(s, opts.TTL, r.log.With("engine", s), r.neg.clear, opts.OnStart))
	}
	return r
}

// Run watches every engine until ctx ends; it returns nil then.
func (r *Resolver) Run(ctx context.Context) error {
	r.eachEngine(func(e *engine) { e.run(ctx) })
	return nil
}

// eachEngine runs f for every engine at once and waits for them all.
func (r *Resolver) eachEngine(f func(*engine)) {
	var wg sync.WaitGroup
	for _, e := range r.engines {
		wg.Go(func() { f(e) })
	}
	wg.Wait()
}

// Lookup returns the running container that has addr. When no engine knows
// it, Lookup asks every engine for a fresh list and waits for it up to
// Options.MissWait; concurrent lookups of one address share that wait, and
// an address the whole wait did not find, while every engine answered and
// nothing changed, is refused at once afterwards until the engines' view
// changes (see the package documentation). The error wraps ErrUnknown or
// ErrUnreachable.
func (r *Resolver) Lookup(ctx context.Context, addr netip.Addr) (Container, error) {
	addr = addr.Unmap()
	if c, ok := r.find(addr); ok {
		return c, nil
	}
	if r.neg.has(addr) {
		return Container{}, fmt.Errorf("%s: %w", addr, ErrUnknown)
	}
	m := r.join(addr)
	defer r.leave(addr, m)
	select {
	case <-m.done:
		return m.c, m.err
	case <-ctx.Done():
	}
	if c, ok := r.find(addr); ok {
		return c, nil
	}
	return Container{}, r.missErr(addr)
}

// miss is the wait for one unknown address, shared by every lookup of it.
type miss struct {
	done chan struct{} // closed once c or err is set
	c    Container
	err  error

	// Guarded by Resolver.missMu.
	waiters int
	cancel  context.CancelFunc // ends the wait; called when no lookup waits
}

// join returns the wait for addr in progress, or starts one. Its lookup
// must leave it.
func (r *Resolver) join(addr netip.Addr) *miss {
	r.missMu.Lock()
	defer r.missMu.Unlock()
	m, ok := r.misses[addr]
	if !ok {
		// The wait is the lookups', not its first caller's: it must not
		// end for the others when that one gives up.
		ctx, cancel := context.WithTimeout(context.Background(), r.opts.MissWait)
		m = &miss{done: make(chan struct{}), cancel: cancel}
		r.misses[addr] = m
		go r.wait(ctx, addr, m)
	}
	m.waiters++
	return m
}

// leave ends the wait when its last lookup leaves; a wait cut short so is
// not remembered.
func (r *Resolver) leave(addr netip.Addr, m *miss) {
	r.missMu.Lock()
	defer r.missMu.Unlock()
	m.waiters--
	if m.waiters > 0 {
		return
	}
	m.cancel()
	if r.misses[addr] == m {
		delete(r.misses, addr)
	}
}

// wait asks every engine for fresh lists until one has addr or ctx ends.
// An address that the whole of MissWait did not find, while every engine
// answered, the cache was not cleared and no container was starting
// unlisted, is remembered as unknown: an engine may list a container's
// address later than its start event, and the container's next request
// must then be served, not refused for negativeTTL.
func (r *Resolver) wait(ctx context.Context, addr netip.Addr, m *miss) {
	// Read before the first find: a clear after it (a container started,
	// a list found a new address) keeps the miss from being remembered,
	// since what started may be this address, listed later than we look.
	gen := r.neg.generation()
	var found bool
	for {
		if m.c, found = r.find(addr); found || ctx.Err() != nil {
			break
		}
		r.relistAll(ctx)
	}
	if !found {
		m.err = r.missErr(addr)
		if errors.Is(m.err, ErrUnknown) && errors.Is(ctx.Err(), context.DeadlineExceeded) && !r.starting() {
			r.neg.add(addr, gen)
		}
	}
	r.missMu.Lock()
	if r.misses[addr] == m {
		delete(r.misses, addr)
	}
	r.missMu.Unlock()
	close(m.done)
}

// relistAll asks every engine for a list that starts after this call and
// waits for them all, or for ctx. The engines' lists are shared by every
// caller and spaced by relistGap, so concurrent waits for many addresses
// cost the engines no more lists than one wait.
func (r *Resolver) relistAll(ctx context.Context) {
	r.eachEngine(func(e *engine) { e.relist(ctx) })
}

// missErr is the error for addr when no engine has it: ErrUnreachable if
// an engine could not be asked, ErrUnknown otherwise.
func (r *Resolver) missErr(addr netip.Addr) error {
	var down []string
	for _, e := range r.engines {
		if err := e.health(); err != nil && !errors.Is(err, errNotInstalled) {
			down = append(down, e.socket+": "+err.Error())
		}
	}
	if len(down) > 0 {
		return fmt.Errorf("%s: %w (%s)", addr, ErrUnreachable, strings.Join(down, "; "))
	}
	return fmt.Errorf("%s: %w", addr, ErrUnknown)
}

// starting reports whether an engine has a container that started
// recently and that no list shows with an address yet.
func (r *Resolver) starting() bool {
	for _, e := range r.engines {
		if e.isStarting() {
			return true
		}
	}
	return false
}

func (r *Resolver) find(addr netip.Addr) (Container, bool) {
	for _, e := range r.engines {
		if c, ok := e.find(addr); ok {
			return c, true
		}
	}
	return Container{}, false
}
