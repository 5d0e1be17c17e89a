package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imdsd/imdsd/access"
	"github.com/imdsd/imdsd/config"
	"github.com/imdsd/imdsd/imds"
	"github.com/imdsd/imdsd/internal/motoserver"
	"github.com/imdsd/imdsd/internal/testutil"
	"github.com/imdsd/imdsd/roles"
)

const (
	testAccount = "123456789012"
	testBase    = "arn:aws:iam::" + testAccount + ":role/"
)

var errFakeUnknownPod = errors.New("fake watcher: no pod has this address")

// fakeWatcher is a hand-written PodWatcher: pods by namespace/name, the
// namespaces' annotations, and the Events recorded.
type fakeWatcher struct {
	mu     sync.Mutex
	pods   map[string]Pod
	ns     map[string]map[string]string
	subs   []func(PodEvent)
	events []string
}

var _ PodWatcher = (*fakeWatcher)(nil)

func newFakeWatcher() *fakeWatcher {
	return &fakeWatcher{pods: map[string]Pod{}, ns: map[string]map[string]string{}}
}

func (f *fakeWatcher) PodByIP(_ context.Context, a netip.Addr) (Pod, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.pods {
		for _, ip := range p.IPs {
			if ip == a {
				return p, nil
			}
		}
	}
	return Pod{}, errFakeUnknownPod
}

func (f *fakeWatcher) Pod(ns, name string) (Pod, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.pods[ns+"/"+name]
	return p, ok
}

func (f *fakeWatcher) NamespaceAnnotations(ns string) (map[string]string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.ns[ns]
	return a, ok
}

func (f *fakeWatcher) Pods() []Pod {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Pod, 0, len(f.pods))
	for _, p := range f.pods {
		out = append(out, p)
	}
	return out
}

func (f *fakeWatcher) Subscribe(fn func(PodEvent)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs = append(f.subs, fn)
}

func (f *fakeWatcher) Status() PodWatcherStatus {
	return PodWatcherStatus{Synced: true, Pods: len(f.Pods())}
}

func (f *fakeWatcher) Event(p Pod, reason, message string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, p.Namespace+"/"+p.Name+" "+reason+": "+message)
}

// put adds or changes a pod and tells the subscribers, as the informer.
func (f *fakeWatcher) put(p Pod) {
	f.mu.Lock()
	f.pods[p.Namespace+"/"+p.Name] = p
	subs := f.subs
	f.mu.Unlock()
	for _, s := range subs {
		s(PodEvent{Pod: p})
	}
}

func (f *fakeWatcher) remove(p Pod) {
	f.mu.Lock()
	delete(f.pods, p.Namespace+"/"+p.Name)
	subs := f.subs
	f.mu.Unlock()
	for _, s := range subs {
		s(PodEvent{Pod: p, Deleted: true})
	}
}

func (f *fakeWatcher) eventLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.events...)
}

// fakeReviewer is a hand-written TokenReviewer over fixed tokens.
type fakeReviewer struct {
	mu     sync.Mutex
	tokens map[string]TokenIdentity
	calls  int64
}

func (r *fakeReviewer) Review(_ context.Context, token string) (TokenIdentity, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if id, ok := r.tokens[token]; ok {
		return id, nil
	}
	return TokenIdentity{}, fmt.Errorf("fake review: %w", ErrTokenRejected)
}

func (r *fakeReviewer) Stats() ReviewStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return ReviewStats{Calls: r.calls}
}

// kubeDaemon is a daemon in Kubernetes mode against moto's STS: the host
// role "host", a config role "batch" given by a service-account rule,
// pods' roles under testBase. now is its clock.
type kubeDaemon struct {
	*Daemon
	w     *fakeWatcher
	rev   *fakeReviewer
	moto  *motoserver.Server
	logs  *syncBuffer
	clock *testutil.Clock
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func startKubeDaemon(t *testing.T, mod func(*config.Config)) *kubeDaemon {
	t.Helper()
	moto := motoserver.Start(t)
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKUBE00001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "x")
	cfg := config.Default()
	cfg.ControlSocket = config.ControlOff
	cfg.Role.RoleARN, cfg.Role.STSEndpoint, cfg.Role.Region = testBase+"host", moto.URL, "us-east-1"
	cfg.Roles = []config.NamedRole{{Def: roles.Def{Name: "batch", RoleARN: testBase + "batch", STSEndpoint: moto.URL, Region: "us-east-1"}}}
	cfg.Clients = []config.ClientRule{{Namespace: "team", ServiceAccount: "batch", Role: "batch"}}
	cfg.Kubernetes.Enabled = true
	cfg.Kubernetes.BaseRoleARN = testBase
	cfg.Kubernetes.STSEndpoint, cfg.Kubernetes.Region = moto.URL, "us-east-1"
	if mod != nil {
		mod(&cfg)
	}
	if err := cfg.Validate(func(k string) string { return k }); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	o, err := New(context.Background(), Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	clock := testutil.NewClock(time.Now())
	o.now = clock.Now
	w, rev := newFakeWatcher(), &fakeReviewer{tokens: map[string]TokenIdentity{}}
	w.ns["team"] = map[string]string{access.AnnotationAllowedRoles: `["app-*"]`}
	w.ns["other"] = map[string]string{}
	o.SetKubernetes(w, rev)
	ctx, cancel := context.WithCancel(context.Background())
	o.startRoles(ctx, o.set.Load())
	done := make(chan struct{})
	go func() { defer close(done); o.kube.Load().pool.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; o.stopRoles() })
	for _, name := range o.set.Load().order {
		o.set.Load().byName[name].waitFetched(ctx, 10*time.Second)
	}
	return &kubeDaemon{Daemon: o, w: w, rev: rev, moto: moto, logs: logs, clock: clock}
}

// waitPool waits for the first fetch of every pod role.
func (d *kubeDaemon) waitPool(t *testing.T) {
	t.Helper()
	for _, s := range d.kube.Load().pool.snapshot() {
		s.e.waitFetched(context.Background(), 10*time.Second)
	}
}

func testPod(name, ip string, ann map[string]string) Pod {
	return Pod{Namespace: "team", Name: name, UID: "uid-" + name, ServiceAccount: "web", Node: "node-1",
		IPs: []netip.Addr{netip.MustParseAddr(ip)}, Annotations: ann, Phase: "Running"}
}

func fromPod(ip string) imds.Caller {
	return imds.Caller{Remote: netip.AddrPortFrom(netip.MustParseAddr(ip), 40000), Local: netip.MustParseAddrPort("169.254.169.254:80")}
}

// TestPods_Roles: each way a pod gets a role, or none, through the daemon
// and moto's STS.
func TestPods_Roles(t *testing.T) {
	d := startKubeDaemon(t, nil)
	role := func(v string) map[string]string { return map[string]string{access.AnnotationRole: v} }
	d.w.put(testPod("web", "10.244.0.2", role("app-web")))
	d.w.put(testPod("plain", "10.244.0.3", nil))
	d.w.put(testPod("greedy", "10.244.0.4", role("admin")))
	batch := testPod("batch", "10.244.0.5", nil)
	batch.ServiceAccount = "batch"
	d.w.put(batch)
	elsewhere := testPod("x", "10.244.0.6", role("app-web"))
	elsewhere.Namespace = "other"
	d.w.put(elsewhere)
	d.waitPool(t)

	tests := []struct {
		name, ip string
		want     string // role name served; "" for a refusal
		err      error
	}{
		{name: "annotated pod gets its role", ip: "10.244.0.2", want: "app-web"},
		{name: "unannotated pod gets nothing, not the host's role", ip: "10.244.0.3", err: imds.ErrNoRole},
		{name: "role its namespace does not permit", ip: "10.244.0.4", err: imds.ErrNoRole},
		{name: "service-account rule gives a config role", ip: "10.244.0.5", want: "batch"},
		{name: "namespace with no permit", ip: "10.244.0.6", err: imds.ErrNoRole},
		{name: "unknown address is not identified, never a default", ip: "10.244.0.99", err: access.ErrNotYetIdentified},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := d.Credentials(context.Background(), fromPod(tc.ip))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("got %+v, %v; want %v", r.Name, err, tc.err)
				}
				return
			}
			if err != nil || r.Name != tc.want || r.Err != nil || r.Credentials.AccessKeyID == "" {
				t.Fatalf("got %q (err %v, role err %v), want %q with credentials", r.Name, err, r.Err, tc.want)
			}
			if !strings.HasPrefix(r.Container, "team/") {
				t.Errorf("audit name %q, want team/POD", r.Container)
			}
		})
	}
	// The host still gets its role.
	if r, err := d.Credentials(context.Background(), imds.Caller{Remote: netip.MustParseAddrPort("127.0.0.1:1"), Local: netip.MustParseAddrPort("127.0.0.1:9254")}); err != nil || r.Name != "host" {
		t.Errorf("host: got %q, %v; want host", r.Name, err)
	}
	ev := d.w.eventLog()
	if len(ev) != 2 || !strings.Contains(strings.Join(ev, "\n"), "team/greedy "+access.ReasonRoleNotPermitted) ||
		!strings.Contains(strings.Join(ev, "\n"), "other/x "+access.ReasonRoleNotPermitted) {
		t.Errorf("events %q: want one each for team/greedy and other/x", ev)
	}
	if n := strings.Count(d.logs.String(), "pod refused"); n != 2 {
		t.Errorf("%d refusal log lines, want 2 (deduplicated):\n%s", n, d.logs.String())
	}
	st := d.status().Kubernetes
	if st == nil || len(st.Pods) != 5 || len(st.PodRoles) != 1 || st.PodRoles[0].Pods != 1 {
		t.Fatalf("status %+v: want 5 pods and one pod role held by one pod", st)
	}
	for _, p := range st.Pods {
		if p.Name == "web" && p.Role != testBase+"app-web" || p.Name == "greedy" && p.Refused == "" {
			t.Errorf("status pod %+v", p)
		}
	}
}

// TestPods_OtherRoleIs404: a pod asking by name for a role other than its
// own gets 404 from the IMDS paths: the server compares the path's role
// with the one the Source decided.
func TestPods_OtherRoleIs404(t *testing.T) {
	d := startKubeDaemon(t, nil)
	d.w.put(testPod("web", "10.244.0.2", map[string]string{access.AnnotationRole: "app-web"}))
	d.waitPool(t)
	srv := newPodIMDS(t, d.Daemon)
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/latest/meta-data/iam/security-credentials/", 200},
		{"/latest/meta-data/iam/security-credentials/app-web", 200},
		{"/latest/meta-data/iam/security-credentials/host", 404},
		{"/latest/meta-data/iam/security-credentials/batch", 404},
	} {
		if got := srv.get(t, tc.path, "10.244.0.2"); got != tc.code {
			t.Errorf("GET %s from the pod: %d, want %d", tc.path, got, tc.code)
		}
	}
}

// TestPods_PrefetchAndGC: a pod event starts its role's session, so its
// first GET makes no STS call; pods with identical parameters share it;
// once no pod uses it for prefetch_grace it is stopped.
func TestPods_PrefetchAndGC(t *testing.T) {
	d := startKubeDaemon(t, func(c *config.Config) { c.Kubernetes.SessionPerPod = false; c.Kubernetes.PrefetchGrace = time.Minute })
	pool := d.kube.Load().pool
	ann := map[string]string{access.AnnotationRole: "app-web"}
	a, b := testPod("a", "10.244.0.2", ann), testPod("b", "10.244.0.3", ann)
	d.w.put(a)
	d.w.put(b)
	snap := pool.snapshot()
	if len(snap) != 1 || snap[0].pods != 2 {
		t.Fatalf("pool %+v: want one shared entry held by two pods", snap)
	}
	snap[0].e.waitFetched(context.Background(), 10*time.Second)
	before := d.moto.STSCalls()
	for _, ip := range []string{"10.244.0.2", "10.244.0.3"} {
		if r, err := d.Credentials(context.Background(), fromPod(ip)); err != nil || r.Err != nil {
			t.Fatalf("GET from %s: %v %v", ip, err, r.Err)
		}
	}
	if after := d.moto.STSCalls(); after != before {
		t.Errorf("STS calls went from %d to %d on the first GETs; want none (prefetched)", before, after)
	}

	d.w.remove(a)
	d.clock.Advance(2 * time.Minute)
	pool.sweep()
	if n := len(pool.snapshot()); n != 1 {
		t.Fatalf("pool has %d entries while pod b still uses the role, want 1", n)
	}
	d.w.remove(b)
	d.clock.Advance(59 * time.Second)
	pool.sweep()
	if n := len(pool.snapshot()); n != 1 {
		t.Fatalf("stopped before the grace: %d entries", n)
	}
	d.clock.Advance(time.Second)
	pool.sweep()
	if n := len(pool.snapshot()); n != 0 {
		t.Fatalf("%d entries after the grace, want 0", n)
	}
	if r, err := d.Credentials(context.Background(), fromPod("10.244.0.2")); !errors.Is(err, access.ErrNotYetIdentified) {
		t.Errorf("deleted pod: got %q, %v; want refused at once", r.Name, err)
	}
}

// TestPods_SessionPerPod: with session_per_pod each pod has its own
// session, named after it; the annotation's session name and external ID
// make entries differ.
func TestPods_SessionPerPod(t *testing.T) {
	d := startKubeDaemon(t, nil)
	pool := d.kube.Load().pool
	d.w.put(testPod("a", "10.244.0.2", map[string]string{access.AnnotationRole: "app-web"}))
	d.w.put(testPod("b", "10.244.0.3", map[string]string{access.AnnotationRole: "app-web"}))
	d.w.put(testPod("c", "10.244.0.4", map[string]string{access.AnnotationRole: "app-web", access.AnnotationSessionName: "shared"}))
	d.w.put(testPod("e", "10.244.0.5", map[string]string{access.AnnotationRole: "app-web", access.AnnotationSessionName: "shared"}))
	var names []string
	for _, s := range pool.snapshot() {
		names = append(names, fmt.Sprintf("%s:%d", s.def.SessionName, s.pods))
	}
	if got := strings.Join(names, " "); got != "shared:2 team.a:1 team.b:1" {
		t.Errorf("sessions %q, want shared:2 team.a:1 team.b:1", got)
	}
}

// TestPods_MaxRoles: past kubernetes.max_roles a new role is refused
// with a clear error, and logged once.
func TestPods_MaxRoles(t *testing.T) {
	d := startKubeDaemon(t, func(c *config.Config) { c.Kubernetes.MaxRoles = 1 })
	d.w.put(testPod("a", "10.244.0.2", map[string]string{access.AnnotationRole: "app-a"}))
	d.w.put(testPod("b", "10.244.0.3", map[string]string{access.AnnotationRole: "app-b"}))
	_, err := d.Credentials(context.Background(), fromPod("10.244.0.3"))
	if !errors.Is(err, ErrPoolFull) || !strings.Contains(err.Error(), "kubernetes.max_roles") {
		t.Fatalf("got %v, want ErrPoolFull naming kubernetes.max_roles", err)
	}
	if n := strings.Count(d.logs.String(), "raise kubernetes.max_roles"); n != 1 {
		t.Errorf("%d log lines, want 1", n)
	}
}

func TestPodSessionName(t *testing.T) {
	long := strings.Repeat("n", 70)
	for _, tc := range []struct {
		pod  access.Pod
		want string
	}{
		{access.Pod{Namespace: "team", Name: "web-1"}, "team.web-1"},
		{access.Pod{Namespace: "a", Name: "b:c/d"}, "a.b-c-d"},
	} {
		if got := podSessionName(tc.pod); got != tc.want {
			t.Errorf("podSessionName(%v) = %q, want %q", tc.pod, got, tc.want)
		}
	}
	a, b := podSessionName(access.Pod{Namespace: "team", Name: long + "a"}), podSessionName(access.Pod{Namespace: "team", Name: long + "b"})
	if len(a) != 64 || len(b) != 64 || a == b || !strings.HasPrefix(a, "team.nnn") {
		t.Errorf("long names %q, %q: want 64 chars each, distinct", a, b)
	}
	if got := sessionName("x", ""); got != "x-" {
		t.Errorf("short name %q, want 2 chars", got)
	}
}

// podIMDS is an IMDS server over a daemon, reached on loopback. A test
// cannot send from a pod's address, so its Source puts the address the
// request names (X-Test-Pod-Addr, a stand-in for the node's DNAT, which
// keeps the pod's source address) in the caller; the server's own path
// handling is the real one.
type podIMDS struct{ url string }

const headerTestPodAddr = "X-Test-Pod-Addr"

func newPodIMDS(t *testing.T, o *Daemon) podIMDS {
	t.Helper()
	var mu sync.Mutex
	var addr string
	s, err := imds.New(imds.Options{
		Source: imds.SourceFunc(func(ctx context.Context, c imds.Caller) (imds.Role, error) {
			mu.Lock()
			c.Remote = netip.AddrPortFrom(netip.MustParseAddr(addr), c.Remote.Port())
			mu.Unlock()
			return o.Credentials(ctx, c)
		}),
		Region: "us-east-1", Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		addr = r.Header.Get(headerTestPodAddr)
		mu.Unlock()
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return podIMDS{url: srv.URL}
}

func (p podIMDS) get(t *testing.T, path, from string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.url+path, nil)
	req.Header.Set(headerTestPodAddr, from)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestPods_AnnotationChanged: a pod whose annotation changes gets the new
// role at its next request, after one event, and lets go of the old one.
func TestPods_AnnotationChanged(t *testing.T) {
	d := startKubeDaemon(t, nil)
	p := testPod("web", "10.244.0.2", map[string]string{access.AnnotationRole: "app-a"})
	d.w.put(p)
	d.waitPool(t)
	if r, err := d.Credentials(context.Background(), fromPod("10.244.0.2")); err != nil || r.Name != "app-a" {
		t.Fatalf("before: got %q, %v; want app-a", r.Name, err)
	}
	p.Annotations = map[string]string{access.AnnotationRole: "app-b"}
	d.w.put(p)
	d.waitPool(t)
	if r, err := d.Credentials(context.Background(), fromPod("10.244.0.2")); err != nil || r.Name != "app-b" || r.Err != nil {
		t.Fatalf("after: got %q, %v, %v; want app-b", r.Name, err, r.Err)
	}
	held := map[string]int{}
	for _, s := range d.kube.Load().pool.snapshot() {
		held[s.def.RoleARN] = s.pods
	}
	if held[testBase+"app-a"] != 0 || held[testBase+"app-b"] != 1 {
		t.Errorf("pool holds %v, want app-a idle and app-b held by the pod", held)
	}
}
