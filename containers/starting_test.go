package containers

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// stepClock is a clock the test moves by hand.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *stepClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// useClock makes e read clk (under e.mu, as every reader of e.now does).
func useClock(e *engine, clk *stepClock) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = clk.Now
}

// TestResolver_LateListedContainerServed: a container whose start event
// came but whose address the engine lists only later than a lookup's whole
// wait is not remembered as unknown: the lookup after the engine lists it
// finds it, instead of being refused for the negative cache's 5 s.
func TestResolver_LateListedContainerServed(t *testing.T) {
	f := newFakeEngine(t)
	r := startResolver(t, expectMiss, f.socket)
	<-f.streams
	settle(t, r)
	e := r.engines[0]
	e.handle(event("container", "start", "aaa")) // not listed yet
	if _, err := r.Lookup(context.Background(), ipA); !errors.Is(err, ErrUnknown) {
		t.Fatalf("before the engine lists it: got %v, want ErrUnknown", err)
	}
	if r.neg.has(ipA) {
		t.Fatal("the miss of a starting container's address was remembered: its next request would be refused")
	}
	f.set(ctr("aaa", "172.17.0.2", nil)) // the engine publishes it, with no event
	r.opts.MissWait = expectHit
	if c, err := r.Lookup(context.Background(), ipA); err != nil || c.ID != "aaa" {
		t.Fatalf("once listed: got %+v, %v; want aaa", c, err)
	}
	if e.isStarting() {
		t.Error("a container listed with its address is still counted as starting")
	}
}

// TestResolver_StartingBounded keeps the bound the negative cache exists
// for: a started container that no list ever shows with an address (no
// network) stops holding misses off after startingMax, on the clock seam,
// and a caller that is no container is refused at once again, listing
// nothing.
func TestResolver_StartingBounded(t *testing.T) {
	f := newFakeEngine(t)
	r := startResolver(t, expectMiss, f.socket)
	<-f.streams
	settle(t, r)
	e := r.engines[0]
	clk := &stepClock{t: time.Unix(1_700_000_000, 0)}
	useClock(e, clk)
	e.handle(event("container", "start", "nonet"))
	if !e.isStarting() {
		t.Fatal("a started container not listed yet is not counted as starting")
	}
	clk.add(startingMax - time.Millisecond)
	if !e.isStarting() {
		t.Fatal("starting ended before startingMax")
	}
	clk.add(time.Millisecond)
	if e.isStarting() {
		t.Fatalf("still starting after startingMax (%v)", startingMax)
	}
	settle(t, r)
	missThenRemember(t, r, ipB)
	r.opts.MissWait = expectMiss
	before := f.listCount()
	for range 50 {
		if _, err := r.Lookup(context.Background(), ipB); !errors.Is(err, ErrUnknown) {
			t.Fatalf("got %v, want ErrUnknown", err)
		}
	}
	if n := f.listCount() - before; n != 0 {
		t.Errorf("50 lookups of a remembered address listed %d times, want 0", n)
	}
}

// TestResolver_StopEndsStarting: a container that dies before it is listed
// no longer holds misses off.
func TestResolver_StopEndsStarting(t *testing.T) {
	f := newFakeEngine(t)
	r := startResolver(t, expectMiss, f.socket)
	e := r.engines[0]
	e.handle(event("network", "connect", "aaa"))
	if !e.isStarting() {
		t.Fatal("a connected container not listed yet is not counted as starting")
	}
	e.handle(event("container", "die", "aaa"))
	if e.isStarting() {
		t.Fatal("a container that died is still counted as starting")
	}
}

// TestResolver_OnStart: the create and start events tell OnStart of the
// container, with its name and labels from the event and no address,
// before any list shows it.
func TestResolver_OnStart(t *testing.T) {
	f := newFakeEngine(t)
	got := make(chan Container, 4)
	r := New(Options{Sockets: []string{f.socket}, TTL: time.Hour, MissWait: expectMiss,
		OnStart: func(c Container) { got <- c }, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-f.streams
	for _, action := range []string{"create", "start"} {
		ev := event("container", action, "aaa")
		ev.Actor.Attributes = map[string]string{"name": "web", "image": "probe", "imdsd.role": "role-a"}
		f.events <- ev
		select {
		case c := <-got:
			if c.ID != "aaa" || c.Name != "web" || len(c.Addrs) != 0 || len(c.Labels) != 1 || c.Labels["imdsd.role"] != "role-a" {
				t.Errorf("%s: got %+v, want ID aaa, name web, labels {imdsd.role: role-a}, no address", action, c)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: OnStart not called", action)
		}
	}
	f.events <- event("network", "connect", "aaa")
	f.events <- event("container", "die", "aaa")
	f.set(ctr("bbb", "172.17.0.3", nil))
	waitFor(t, "the events to be read", func() bool { _, ok := r.find(ipB); return ok })
	select {
	case c := <-got:
		t.Errorf("OnStart called for a connect or die event: %+v", c)
	default:
	}
}
