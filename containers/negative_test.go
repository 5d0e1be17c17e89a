package containers

import (
	"context"
	"errors"
	"fmt"
	"github.com/imdsd/imdsd/internal/testutil"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// settle waits until every engine of r has listed once and no list is
// asked for or running, so that list counts taken after it are the test's
// own. Nothing else may poke the engines meanwhile (no events).
func settle(t testing.TB, r *Resolver) {
	t.Helper()
	for _, e := range r.engines {
		// The first list, asked for when the event stream opens, ends
		// errNotListed.
		for errors.Is(e.health(), errNotListed) {
			time.Sleep(time.Millisecond)
		}
		// A list that starts after this call consumes any poke still
		// pending (the kick channel holds one), this call's included.
		e.relist(context.Background())
	}
}

// waitFor is testutil.WaitFor with this package's bound, which only keeps
// a broken build from hanging the run; it asserts no speed.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	testutil.WaitFor(tb, 10*time.Second, cond, what)
}

// missThenRemember makes r look addr up once with a short MissWait, so that
// it is remembered as unknown, and then gives r a long MissWait: a later
// lookup that waits finds what is listed, one that does not returns at once.
func missThenRemember(t testing.TB, r *Resolver, addr netip.Addr) {
	t.Helper()
	r.opts.MissWait = expectMiss
	if _, err := r.Lookup(context.Background(), addr); !errors.Is(err, ErrUnknown) {
		t.Fatalf("first lookup of %s: got %v, want ErrUnknown", addr, err)
	}
	if !r.neg.has(addr) {
		t.Fatalf("%s not remembered as unknown after a full miss", addr)
	}
	r.opts.MissWait = expectHit
	settle(t, r)
}

// TestResolver_UnknownRemembered: an address a lookup did not find is
// refused at once afterwards, without asking the engine, with the same
// error.
func TestResolver_UnknownRemembered(t *testing.T) {
	f := newFakeEngine(t)
	f.set(ctr("aaa", "172.17.0.2", nil))
	r := startResolver(t, expectMiss, f.socket)
	settle(t, r)
	before := f.listCount()
	missThenRemember(t, r, ipB)
	t.Logf("first lookup of an unknown address (MissWait %v): %d lists", expectMiss, f.listCount()-before)
	// Were the address not remembered, each lookup would ask for lists.
	r.opts.MissWait = expectMiss

	before = f.listCount()
	for range 100 {
		_, err := r.Lookup(context.Background(), ipB)
		if !errors.Is(err, ErrUnknown) || err.Error() != fmt.Sprintf("%s: %v", ipB, ErrUnknown) {
			t.Fatalf("remembered address: got %v, want %q", err, fmt.Sprintf("%s: %v", ipB, ErrUnknown))
		}
	}
	if n := f.listCount() - before; n != 0 {
		t.Errorf("100 lookups of a remembered unknown address listed %d times, want 0", n)
	}
	// The mapped form is the same address.
	if _, err := r.Lookup(context.Background(), netip.AddrFrom16(ipB.As16())); !errors.Is(err, ErrUnknown) {
		t.Errorf("mapped form: got %v, want ErrUnknown", err)
	}
	if n := f.listCount() - before; n != 0 {
		t.Errorf("mapped form listed %d times, want 0", n)
	}
	// A known address is still answered from the map.
	if c, err := r.Lookup(context.Background(), ipA); err != nil || c.ID != "aaa" {
		t.Errorf("known address: got %+v, %v; want aaa", c, err)
	}
}

// TestResolver_StartForgetsUnknown: a container that starts with an address
// remembered as unknown is found by the next lookup, which waits for the
// list again.
func TestResolver_StartForgetsUnknown(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   apiEvent
	}{
		{"container start", event("container", "start", "aaa")},
		{"network connect", event("network", "connect", "aaa")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEngine(t)
			r := startResolver(t, expectMiss, f.socket)
			<-f.streams
			settle(t, r)
			missThenRemember(t, r, ipA)

			f.set(ctr("aaa", "172.17.0.2", nil))
			f.events <- tc.ev
			// The event stream is read by the engine's goroutine.
			waitFor(t, "the event to forget the address", func() bool { return !r.neg.has(ipA) })
			if c, err := r.Lookup(context.Background(), ipA); err != nil || c.ID != "aaa" {
				t.Fatalf("after %s: got %+v, %v; want aaa", tc.name, c, err)
			}
		})
	}
}

// TestResolver_EventForgetsBeforeList: the event clears the remembered
// address itself, before the list it causes has run, so the lookup that
// comes between them waits for that list instead of being refused.
func TestResolver_EventForgetsBeforeList(t *testing.T) {
	f := newFakeEngine(t)
	r := startResolver(t, expectMiss, f.socket)
	settle(t, r)
	missThenRemember(t, r, ipA)
	f.set(ctr("aaa", "172.17.0.2", nil))
	r.engines[0].handle(event("container", "start", "aaa"))
	if r.neg.has(ipA) {
		t.Fatal("start event left the address remembered as unknown")
	}
	if c, err := r.Lookup(context.Background(), ipA); err != nil || c.ID != "aaa" {
		t.Fatalf("got %+v, %v; want aaa", c, err)
	}
}

// TestResolver_NewAddressForgetsUnknown: a list that finds an address it
// did not have (its event was missed) forgets every remembered address; a
// list that finds nothing new keeps them.
func TestResolver_NewAddressForgetsUnknown(t *testing.T) {
	f := newFakeEngine(t)
	f.set(ctr("aaa", "172.17.0.2", nil))
	r := startResolver(t, expectMiss, f.socket)
	settle(t, r)
	missThenRemember(t, r, ipB)
	e := r.engines[0]

	e.relist(context.Background()) // same containers
	if !r.neg.has(ipB) {
		t.Fatal("a list with no new address forgot the remembered one")
	}
	f.set(ctr("aaa", "172.17.0.2", nil), ctr("bbb", "172.17.0.3", nil))
	e.relist(context.Background())
	if r.neg.size() != 0 {
		t.Fatalf("a list with a new address left %d remembered", r.neg.size())
	}
	if c, err := r.Lookup(context.Background(), ipB); err != nil || c.ID != "bbb" {
		t.Fatalf("got %+v, %v; want bbb", c, err)
	}
}

// TestResolver_ConcurrentMissesShare: lookups of one unknown address wait
// together, and lookups of many do not multiply the engine's lists: it
// starts at most one list per relistGap, as for one lookup.
func TestResolver_ConcurrentMissesShare(t *testing.T) {
	const n = 50
	f := newFakeEngine(t)
	r := startResolver(t, 300*time.Millisecond, f.socket)
	settle(t, r)

	run := func(name string, k int, addr func(i int) netip.Addr) {
		t.Helper()
		before, start := f.listCount(), time.Now()
		var wg sync.WaitGroup
		errs := make([]error, k)
		for i := range k {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = r.Lookup(context.Background(), addr(i))
			}()
		}
		wg.Wait()
		elapsed, lists := time.Since(start), f.listCount()-before
		for i, err := range errs {
			if !errors.Is(err, ErrUnknown) {
				t.Fatalf("%s: lookup %d: got %v, want ErrUnknown", name, i, err)
			}
		}
		// Lists run one after another and start relistGap apart, so all
		// but the first counted started within elapsed.
		limit := int(elapsed/relistGap) + 2
		t.Logf("%s: %d lists in %v (limit %d)", name, lists, elapsed.Round(time.Millisecond), limit)
		if lists > limit {
			t.Errorf("%s: %d lists in %v, want at most %d (one per %v)", name, lists, elapsed, limit, relistGap)
		}
		settle(t, r)
	}
	one := netip.MustParseAddr("10.0.0.1")
	run("one lookup", 1, func(int) netip.Addr { return netip.MustParseAddr("10.0.0.2") })
	run(fmt.Sprintf("%d lookups of one address", n), n, func(int) netip.Addr { return one })
	run(fmt.Sprintf("%d lookups of %d addresses", n, n), n, func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 1, 0, byte(i)}) })
	if got := r.neg.size(); got != n+2 {
		t.Errorf("remembered %d addresses, want %d", got, n+2)
	}
}

// TestResolver_OneWaitPerAddress: concurrent lookups of one address share a
// single wait; when they all give up, the wait ends and, cut short, is not
// remembered.
func TestResolver_OneWaitPerAddress(t *testing.T) {
	const n = 20
	f := newFakeEngine(t)
	r := startResolver(t, expectHit, f.socket)
	settle(t, r)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = r.Lookup(ctx, ipA)
		}()
	}
	var m *miss
	waitFor(t, fmt.Sprintf("%d lookups to share one wait", n), func() bool {
		r.missMu.Lock()
		defer r.missMu.Unlock()
		m = r.misses[ipA]
		return m != nil && m.waiters == n
	})
	cancel()
	wg.Wait()
	<-m.done
	for i, err := range errs {
		if !errors.Is(err, ErrUnknown) {
			t.Errorf("lookup %d: got %v, want ErrUnknown", i, err)
		}
	}
	r.missMu.Lock()
	waits := len(r.misses)
	r.missMu.Unlock()
	if waits != 0 {
		t.Errorf("%d waits left after every lookup gave up", waits)
	}
	if r.neg.has(ipA) {
		t.Error("a wait its lookups gave up on was remembered")
	}
}

// TestResolver_UnreachableNotRemembered: while an engine cannot be asked,
// every lookup of an unknown address waits and says so, and an engine that
// goes away forgets what was remembered.
func TestResolver_UnreachableNotRemembered(t *testing.T) {
	f := newFakeEngine(t)
	r := startResolver(t, expectMiss, f.socket)
	settle(t, r)
	missThenRemember(t, r, ipB)
	r.opts.MissWait = expectMiss

	f.mu.Lock()
	f.broken = true
	f.mu.Unlock()
	r.engines[0].relist(context.Background())
	if r.neg.has(ipB) {
		t.Error("the engine failed and the address stays remembered as unknown")
	}
	// A remembered miss would answer ErrUnknown at once.
	for _, addr := range []netip.Addr{ipA, ipA, ipB} {
		if _, err := r.Lookup(context.Background(), addr); !errors.Is(err, ErrUnreachable) {
			t.Fatalf("%s while the engine fails: got %v, want ErrUnreachable", addr, err)
		}
	}
	if n := r.neg.size(); n != 0 {
		t.Errorf("%d addresses remembered while the engine fails, want 0", n)
	}

	f.mu.Lock()
	f.broken = false
	f.mu.Unlock()
	f.set(ctr("aaa", "172.17.0.2", nil))
	r.opts.MissWait = expectHit
	if c, err := r.Lookup(context.Background(), ipA); err != nil || c.ID != "aaa" {
		t.Fatalf("engine back: got %+v, %v; want aaa", c, err)
	}
}

func TestNegative(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	newN := func(size int) *negative {
		n := newNegative(time.Minute, size)
		n.now = func() time.Time { return now }
		return n
	}

	t.Run("add, clear", func(t *testing.T) {
		n := newN(10)
		n.add(a, n.generation())
		if !n.has(a) || n.has(b) {
			t.Fatalf("has(a), has(b) = %v, %v; want true, false", n.has(a), n.has(b))
		}
		n.clear()
		if n.has(a) || n.size() != 0 {
			t.Fatalf("after clear: has(a) = %v, size %d; want false, 0", n.has(a), n.size())
		}
	})
	t.Run("cleared since read", func(t *testing.T) {
		n := newN(10)
		gen := n.generation()
		n.clear()
		n.add(a, gen)
		if n.has(a) {
			t.Fatal("a miss decided before a clear was remembered")
		}
	})
	t.Run("age", func(t *testing.T) {
		n := newN(10)
		n.add(a, n.generation())
		now = now.Add(time.Minute - time.Nanosecond)
		if !n.has(a) {
			t.Fatal("dropped before its age")
		}
		now = now.Add(time.Nanosecond)
		if n.has(a) || n.size() != 0 {
			t.Fatalf("at its age: has = %v, size %d; want false, 0", n.has(a), n.size())
		}
	})
	t.Run("bounded", func(t *testing.T) {
		const extra = 100
		n := newN(negativeMax)
		addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}) }
		for i := range negativeMax + extra {
			n.add(addr(i), n.generation())
		}
		if n.size() != negativeMax {
			t.Fatalf("size %d after %d adds, want %d", n.size(), negativeMax+extra, negativeMax)
		}
		for i := range extra {
			if n.has(addr(i)) {
				t.Fatalf("oldest entry %d kept", i)
			}
		}
		for i := extra; i < negativeMax+extra; i++ {
			if !n.has(addr(i)) {
				t.Fatalf("entry %d dropped, want only the %d oldest dropped", i, extra)
			}
		}
		// Adding an address again makes it the newest.
		n.add(addr(extra), n.generation())
		n.add(addr(negativeMax+extra), n.generation())
		if !n.has(addr(extra)) || n.has(addr(extra+1)) {
			t.Fatal("re-added entry was not moved to the newest")
		}
	})
}

// TestNew_NegativeEntriesAreShortLived: an unknown address is remembered for
// negativeTTL at most, however long the re-list interval, so a container
// listed late is refused only until its next attempt; a shorter TTL wins.
func TestNew_NegativeEntriesAreShortLived(t *testing.T) {
	for _, tc := range []struct {
		ttl, want time.Duration
	}{
		{0, negativeTTL}, // DefaultTTL
		{time.Hour, negativeTTL},
		{time.Second, time.Second},
	} {
		r := New(Options{Sockets: []string{"/nonexistent.sock"}, TTL: tc.ttl})
		if r.neg.ttl != tc.want {
			t.Errorf("TTL %v: unknown addresses remembered for %v, want %v", tc.ttl, r.neg.ttl, tc.want)
		}
	}
}
