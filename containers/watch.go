package containers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"sync"
	"time"
)

// errNotListed is an engine's health before its first list.
var errNotListed = errors.New("not listed yet")

// errNotInstalled is an engine's health while its socket does not exist:
// that engine is not installed or not started, so it runs no container
// that could be mistaken for another (podman's socket on a Docker host).
var errNotInstalled = errors.New("socket absent: engine not installed or not running")

// engine watches one container engine.
type engine struct {
	socket string
	client *engineClient
	ttl    time.Duration
	log    *slog.Logger
	kick   chan struct{} // asks the loop for a re-list; capacity 1
	// changed is called when containers may have appeared: a start or
	// network connect event, a list with an address the map did not have,
	// the engine turning unreachable. It clears the negative cache.
	changed func()

	// onStart learns of each container created or started, from its
	// event (before any list: with its labels, without its addresses).
	onStart func(Container)
	now     func() time.Time // the clock; time.Now but in tests

	mu     sync.Mutex
	byAddr map[netip.Addr]Container
	// starting holds the containers whose start or connect event came
	// and that no list has shown with an address yet, with the event's
	// time: while one does, an unknown address may be its (the engine
	// publishes addresses after the event) and is not remembered unknown.
	starting map[string]time.Time
	err      error         // last list error; errNotListed before the first
	waiters  chan struct{} // closed when a list that starts after now ends
	down     bool          // a connection failure was logged
}

// startingMax bounds how long a started container that no list shows with
// an address (a --network none container, an event whose list failed)
// keeps unknown addresses from being remembered.
const startingMax = 10 * time.Second

func newEngine(socket string, ttl time.Duration, log *slog.Logger, changed func(), onStart func(Container)) *engine {
	return &engine{
		socket:   socket,
		client:   newEngineClient(socket),
		ttl:      ttl,
		log:      log,
		kick:     make(chan struct{}, 1),
		changed:  changed,
		onStart:  onStart,
		now:      time.Now,
		err:      errNotListed,
		starting: make(map[string]time.Time),
	}
}

// isStarting reports whether a container of this engine started (or got
// an address) recently and is not listed with an address yet.
func (e *engine) isStarting() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	for id, at := range e.starting {
		if now.Sub(at) >= startingMax {
			delete(e.starting, id)
			continue
		}
		return true
	}
	return false
}

func (e *engine) find(addr netip.Addr) (Container, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.byAddr[addr]
	return c, ok
}

func (e *engine) health() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// relist asks for a list that starts after this call and waits for it to
// end, or for ctx.
func (e *engine) relist(ctx context.Context) {
	e.mu.Lock()
	if e.waiters == nil {
		e.waiters = make(chan struct{})
	}
	ch := e.waiters
	e.mu.Unlock()
	e.poke()
	select {
	case <-ch:
	case <-ctx.Done():
	}
}

func (e *engine) poke() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// run keeps the engine's map current until ctx ends: it follows the event
// stream, re-lists on events, on pokes and every TTL, and reconnects with
// a growing pause when the engine is away.
func (e *engine) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.listLoop(ctx)
	}()
	pause := 250 * time.Millisecond
	for ctx.Err() == nil {
		err := e.client.events(ctx, func() {
			pause = 250 * time.Millisecond
			e.poke() // list what ran before the stream opened
		}, e.handle)
		if ctx.Err() != nil {
			break
		}
		e.failed(err)
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
		pause = min(pause*2, retryMax)
	}
	wg.Wait()
}

// listLoop lists containers when poked and every TTL, starting lists at
// least relistGap apart: however many lookups wait for unknown addresses,
// and however many events come at once, the engine is asked at most once
// per relistGap, and one list serves every lookup that waits for it.
func (e *engine) listLoop(ctx context.Context) {
	t := time.NewTicker(e.ttl)
	defer t.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			e.release()
			return
		case <-t.C:
		case <-e.kick:
		}
		if gap := relistGap - time.Since(last); gap > 0 {
			select {
			case <-ctx.Done():
				e.release()
				return
			case <-time.After(gap):
			}
		}
		last = time.Now()
		e.list(ctx)
	}
}

// list reads the container list and replaces the map. Waiters registered
// before it started are released when it ends, whatever the outcome.
func (e *engine) list(ctx context.Context) {
	e.mu.Lock()
	ch := e.waiters
	e.waiters = nil
	e.mu.Unlock()
	defer func() {
		if ch != nil {
			close(ch)
		}
	}()
	cs, err := e.client.list(ctx)
	if err != nil {
		e.failed(err)
		return
	}
	m := make(map[netip.Addr]Container, len(cs))
	for _, c := range cs {
		for _, a := range c.Addrs {
			m[a] = c
		}
	}
	e.mu.Lock()
	for _, c := range cs {
		if len(c.Addrs) > 0 {
			delete(e.starting, c.ID)
		}
	}
	fresh := false
	for a := range m {
		if _, ok := e.byAddr[a]; !ok {
			fresh = true
			break
		}
	}
	e.byAddr = m
	e.err = nil
	wasDown := e.down
	e.down = false
	e.mu.Unlock()
	if fresh {
		// After the map has it: a lookup whose miss is decided from now
		// on finds the address, one decided before is not remembered.
		e.changed()
	}
	if wasDown {
		e.log.Info("container engine reachable", "containers", len(cs))
	} else {
		e.log.Debug("containers listed", "containers", len(cs))
	}
}

// failed records that the engine could not be reached. The map is
// dropped: while the engine is away its containers may change unseen.
func (e *engine) failed(err error) {
	if errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("%w (%w)", errNotInstalled, err)
	}
	e.mu.Lock()
	e.err = err
	e.byAddr = nil
	wasDown := e.down
	e.down = true
	e.mu.Unlock()
	if !wasDown {
		// What the engine runs is unseen from now on: an address
		// remembered as unknown may become one of its containers.
		e.changed()
	}
	switch {
	case wasDown:
	case errors.Is(err, errNotInstalled):
		e.log.Info("container engine socket absent; watching for it", "err", err)
	default:
		e.log.Warn("container engine not reachable; its containers get no credentials until it is", "err", err)
	}
}

// release frees lookups waiting for a list that will not come.
func (e *engine) release() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.waiters != nil {
		close(e.waiters)
		e.waiters = nil
	}
}

// handle applies one event. A container that stops loses its addresses at
// once, before the re-list: its address may be handed to the next container
// started, which must not inherit its role.
func (e *engine) handle(ev apiEvent) {
	id := ev.Actor.ID
	if ev.Type == "network" {
		id = ev.Actor.Attributes["container"]
	}
	e.log.Debug("container event", "type", ev.Type, "action", ev.Action, "id", short(id))
	switch ev.Action {
	case "die", "stop", "kill", "destroy", "pause", "disconnect":
		e.forget(id)
		e.poke()
	case "create":
		// Before its process runs: its role can be fetched now.
		e.started(ev, id)
	case "start", "restart", "unpause", "connect", "rename", "update":
		// A container that gets an address must be found at once, not
		// refused as an address remembered unknown, even when the
		// engine lists its address only later than this event.
		if id != "" && ev.Action != "rename" && ev.Action != "update" {
			e.mu.Lock()
			e.starting[id] = e.now()
			e.mu.Unlock()
		}
		e.changed()
		e.poke()
		if ev.Type == "container" && ev.Action == "start" {
			e.started(ev, id)
		}
	}
}

// isEventAttr reports whether an attribute of a container event is the
// event's own rather than one of the container's labels (Docker and
// podman send the labels among them).
func isEventAttr(k string) bool {
	switch k {
	case "image", "name", "exitCode", "signal", "execID", "podId", "podName":
		return true
	}
	return false
}

// started tells onStart of a container created or started, as its event
// gives it: ID, name and labels, no address yet.
func (e *engine) started(ev apiEvent, id string) {
	if e.onStart == nil || ev.Type != "container" || id == "" {
		return
	}
	c := Container{ID: id, Name: ev.Actor.Attributes["name"], Engine: e.socket, Labels: map[string]string{}}
	for k, v := range ev.Actor.Attributes {
		if !isEventAttr(k) {
			c.Labels[k] = v
		}
	}
	e.onStart(c)
}

func (e *engine) forget(id string) {
	if id == "" {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.starting, id)
	for a, c := range e.byAddr {
		if c.ID == id {
			delete(e.byAddr, a)
		}
	}
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
