package containers

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fakeEngine serves the two Docker Engine API endpoints the package uses
// on a unix socket.
type fakeEngine struct {
	socket string
	srv    *httptest.Server

	mu         sync.Mutex
	containers []apiContainer
	lists      int
	broken     bool // the list answers 500
	events     chan apiEvent
	streams    chan struct{} // receives when an event stream opens
}

func newFakeEngine(t testing.TB) *fakeEngine {
	t.Helper()
	f := &fakeEngine{
		socket:  filepath.Join(t.TempDir(), "engine.sock"),
		events:  make(chan apiEvent, 16),
		streams: make(chan struct{}, 16),
	}
	ln, err := net.Listen("unix", f.socket)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containers/json", func(w http.ResponseWriter, _ *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.lists++
		if f.broken {
			http.Error(w, "engine broken", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(f.containers)
	})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		if got := r.URL.Query().Get("filters"); got != `{"type":["container","network"]}` {
			http.Error(w, "bad filters "+got, http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		f.streams <- struct{}{}
		enc := json.NewEncoder(w)
		for {
			select {
			case <-r.Context().Done():
				return
			case ev := <-f.events:
				_ = enc.Encode(ev)
				w.(http.Flusher).Flush()
			}
		}
	})
	f.srv = httptest.NewUnstartedServer(mux)
	f.srv.Listener = ln
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeEngine) set(cs ...apiContainer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.containers = cs
}

func (f *fakeEngine) listCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lists
}

func ctr(id, ip string, labels map[string]string) apiContainer {
	var c apiContainer
	c.ID = id
	c.Names = []string{"/" + id}
	c.Labels = labels
	c.NetworkSettings.Networks = map[string]struct {
		IPAddress         string `json:"IPAddress"`
		GlobalIPv6Address string `json:"GlobalIPv6Address"`
	}{"bridge": {IPAddress: ip}}
	return c
}

func event(typ, action, id string) apiEvent {
	var ev apiEvent
	ev.Type, ev.Action, ev.Actor.ID = typ, action, id
	if typ == "network" {
		ev.Actor.Attributes = map[string]string{"container": id}
	}
	return ev
}

// startResolver runs a Resolver on the sockets until the test ends. The TTL
// is long so that only events, pokes and misses cause lists. A lookup of an
// address no container has waits all of MissWait, so tests that expect a
// miss pass a short one; tests that expect a hit pass a long one (a lookup
// returns as soon as it finds), so a loaded CI machine cannot make them
// flaky.
func startResolver(t testing.TB, missWait time.Duration, sockets ...string) *Resolver {
	t.Helper()
	r := New(Options{Sockets: sockets, TTL: time.Hour, MissWait: missWait, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// MissWait values for startResolver.
const (
	expectHit  = 10 * time.Second
	expectMiss = 20 * time.Millisecond
)

var (
	ipA = netip.MustParseAddr("172.17.0.2")
	ipB = netip.MustParseAddr("172.17.0.3")
)

func TestResolver_Lookup(t *testing.T) {
	f := newFakeEngine(t)
	f.set(ctr("aaa", "172.17.0.2", map[string]string{"imdsd.role": "a"}))
	r := startResolver(t, expectHit, f.socket)

	c, err := r.Lookup(context.Background(), ipA)
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	if v, ok := c.Label("imdsd.role"); c.ID != "aaa" || c.Name != "aaa" || !ok || v != "a" || c.Engine != f.socket {
		t.Errorf("got %+v, want container aaa labelled imdsd.role=a on %s", c, f.socket)
	}
	misses := startResolver(t, expectMiss, f.socket)
	// Listed once first: a short MissWait could end before the first list
	// on a loaded machine, and the engine would be "not listed yet".
	settle(t, misses)
	if _, err := misses.Lookup(context.Background(), ipB); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown address: got %v, want ErrUnknown", err)
	}
	// An IPv4-mapped IPv6 address is the same container.
	if _, err := r.Lookup(context.Background(), netip.AddrFrom16(ipA.As16())); err != nil {
		t.Errorf("mapped address: %v", err)
	}
}

// TestResolver_MissRelists: a container whose start event was not yet seen
// is found by the lookup itself.
func TestResolver_MissRelists(t *testing.T) {
	f := newFakeEngine(t)
	r := startResolver(t, expectHit, f.socket)
	f.set(ctr("aaa", "172.17.0.2", nil))
	if c, err := r.Lookup(context.Background(), ipA); err != nil || c.ID != "aaa" {
		t.Fatalf("after start, no event: got %+v, %v; want aaa", c, err)
	}
}

// TestResolver_DieForgetsAtOnce: once a die event is handled the address
// is unknown even if a re-list is yet to happen, so a new container that
// gets the address cannot inherit the old one's role.
func TestResolver_DieForgetsAtOnce(t *testing.T) {
	f := newFakeEngine(t)
	f.set(ctr("old", "172.17.0.2", map[string]string{"imdsd.role": "a"}))
	r := startResolver(t, expectHit, f.socket)
	<-f.streams
	if _, err := r.Lookup(context.Background(), ipA); err != nil {
		t.Fatal(err)
	}
	e := r.engines[0]
	e.handle(event("container", "die", "old"))
	if _, ok := e.find(ipA); ok {
		t.Fatal("address still mapped after the die event")
	}
	f.set(ctr("new", "172.17.0.2", nil))
	c, err := r.Lookup(context.Background(), ipA)
	if err != nil || c.ID != "new" {
		t.Fatalf("got %+v, %v; want the new container", c, err)
	}
}

// TestResolver_Events: events from the stream make the resolver list again.
func TestResolver_Events(t *testing.T) {
	f := newFakeEngine(t)
	r := startResolver(t, expectHit, f.socket)
	<-f.streams
	e := r.engines[0]
	for _, tc := range []struct {
		name string
		ev   apiEvent
		cs   []apiContainer
		want bool
	}{
		{"start", event("container", "start", "aaa"), []apiContainer{ctr("aaa", "172.17.0.2", nil)}, true},
		{"network disconnect", event("network", "disconnect", "aaa"), nil, false},
		{"network connect", event("network", "connect", "aaa"), []apiContainer{ctr("aaa", "172.17.0.2", nil)}, true},
		{"die", event("container", "die", "aaa"), nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.set(tc.cs...)
			before := f.listCount()
			f.events <- tc.ev
			// Wait for the list the event causes (bounded by the test's
			// own deadline, not by a timed assertion).
			for f.listCount() == before {
				time.Sleep(time.Millisecond)
			}
			for {
				_, ok := e.find(ipA)
				if ok == tc.want {
					break
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
}

// TestResolver_EngineDown: an engine whose socket exists but does not
// answer makes an unknown address an error that says the engine is away.
func TestResolver_EngineDown(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "dead.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // the file stays; connecting is refused
	r := startResolver(t, expectMiss, sock)
	if _, err := r.Lookup(context.Background(), ipA); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("got %v, want ErrUnreachable", err)
	}
}

// TestResolver_EngineNotInstalled: a socket that does not exist (podman's
// on a Docker-only host) is no engine: an unknown address is unknown.
func TestResolver_EngineNotInstalled(t *testing.T) {
	f := newFakeEngine(t)
	r := startResolver(t, expectMiss, f.socket, filepath.Join(t.TempDir(), "absent.sock"))
	if _, err := r.Lookup(context.Background(), ipA); !errors.Is(err, ErrUnknown) {
		t.Fatalf("got %v, want ErrUnknown", err)
	}
}

// TestResolver_TwoEngines: Docker's and podman's containers are both found;
// one engine failing makes unknown addresses an error that says so.
func TestResolver_TwoEngines(t *testing.T) {
	docker, podman := newFakeEngine(t), newFakeEngine(t)
	docker.set(ctr("d", "172.17.0.2", nil))
	podman.set(ctr("p", "172.17.0.3", nil))
	hits := startResolver(t, expectHit, docker.socket, podman.socket)
	for _, tc := range []struct {
		ip   netip.Addr
		want string
	}{{ipA, "d"}, {ipB, "p"}} {
		if c, err := hits.Lookup(context.Background(), tc.ip); err != nil || c.ID != tc.want {
			t.Errorf("%s: got %+v, %v; want %s", tc.ip, c, err, tc.want)
		}
	}
	podman.mu.Lock()
	podman.broken = true
	podman.mu.Unlock()
	misses := startResolver(t, expectMiss, docker.socket, podman.socket)
	if _, err := misses.Lookup(context.Background(), netip.MustParseAddr("172.17.0.9")); !errors.Is(err, ErrUnreachable) {
		t.Errorf("got %v, want ErrUnreachable while podman fails", err)
	}
	if _, err := misses.Lookup(context.Background(), ipA); err != nil {
		t.Errorf("docker's container while podman fails: %v", err)
	}
}
