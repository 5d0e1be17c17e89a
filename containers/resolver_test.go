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
// is long so that only events, pokes and misses cause lists. MissWait is
// generous: a fake engine answers at once, so no lookup actually waits that
// long, and a loaded CI machine cannot make the test flaky.
func startResolver(t testing.TB, sockets ...string) *Resolver {
	t.Helper()
	r := New(Options{Sockets: sockets, TTL: time.Hour, MissWait: 10 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

var (
	ipA = netip.MustParseAddr("172.17.0.2")
	ipB = netip.MustParseAddr("172.17.0.3")
)

func TestResolver_Lookup(t *testing.T) {
	f := newFakeEngine(t)
	f.set(ctr("aaa", "172.17.0.2", map[string]string{"imdsd.role": "a"}))
	r := startResolver(t, f.socket)

	c, err := r.Lookup(context.Background(), ipA)
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	if v, ok := c.Label("imdsd.role"); c.ID != "aaa" || c.Name != "aaa" || !ok || v != "a" || c.Engine != f.socket {
		t.Errorf("got %+v, want container aaa labelled imdsd.role=a on %s", c, f.socket)
	}
	if _, err := r.Lookup(context.Background(), ipB); !errors.Is(err, ErrUnknown) {
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
	r := startResolver(t, f.socket)
	if _, err := r.Lookup(context.Background(), ipA); !errors.Is(err, ErrUnknown) {
		t.Fatalf("before start: got %v, want ErrUnknown", err)
	}
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
	r := startResolver(t, f.socket)
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
	r := startResolver(t, f.socket)
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

func TestResolver_EngineDown(t *testing.T) {
	r := startResolver(t, filepath.Join(t.TempDir(), "absent.sock"))
	_, err := r.Lookup(context.Background(), ipA)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("got %v, want ErrUnreachable", err)
	}
}

// TestResolver_TwoEngines: Docker's and podman's containers are both found;
// one engine being away makes unknown addresses an error that says so.
func TestResolver_TwoEngines(t *testing.T) {
	docker, podman := newFakeEngine(t), newFakeEngine(t)
	docker.set(ctr("d", "172.17.0.2", nil))
	podman.set(ctr("p", "172.17.0.3", nil))
	r := startResolver(t, docker.socket, podman.socket)
	for _, tc := range []struct {
		ip   netip.Addr
		want string
	}{{ipA, "d"}, {ipB, "p"}} {
		if c, err := r.Lookup(context.Background(), tc.ip); err != nil || c.ID != tc.want {
			t.Errorf("%s: got %+v, %v; want %s", tc.ip, c, err, tc.want)
		}
	}
	podman.srv.CloseClientConnections()
	podman.srv.Close()
	podman.set()
	r.engines[1].failed(errors.New("gone"))
	if _, err := r.Lookup(context.Background(), netip.MustParseAddr("172.17.0.9")); !errors.Is(err, ErrUnreachable) {
		t.Errorf("got %v, want ErrUnreachable while podman is away", err)
	}
	if _, err := r.Lookup(context.Background(), ipA); err != nil {
		t.Errorf("docker's container while podman is away: %v", err)
	}
}
