package access

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
)

const labelKey = "imdsd.role"

var (
	errUnknownAddr = errors.New("address not listed")
	errEngineDown  = errors.New("engine unreachable")
)

// fakeUsers is a UserDB built from maps.
type fakeUsers struct {
	uids   map[string]int
	gids   map[string]int
	groups map[int][]int
	calls  int
}

var _ UserDB = (*fakeUsers)(nil)

func (f *fakeUsers) UID(v string) (int, error) {
	if id, ok := f.uids[v]; ok {
		return id, nil
	}
	return 0, ErrUnknownUser
}

func (f *fakeUsers) GID(v string) (int, error) {
	if id, ok := f.gids[v]; ok {
		return id, nil
	}
	return 0, ErrUnknownGroup
}

func (f *fakeUsers) Groups(uid int) ([]int, error) {
	f.calls++
	return f.groups[uid], nil
}

func testUsers() *fakeUsers {
	return &fakeUsers{
		uids:   map[string]int{"alice": 1000, "bob": 1001, "carol": 1002, "dave": 1003, "1000": 1000, "1004": 1004},
		gids:   map[string]int{"developers": 2000, "admins": 2001},
		groups: map[int][]int{1000: {1000}, 1001: {1001}, 1002: {1002, 2000}, 1003: {1003, 2001, 2000}, 1004: {1004}},
	}
}

func labelled(id, role string) Container {
	c := Container{ID: id, Name: "ctr-" + id}
	if role != "" {
		c.Labels = map[string]string{labelKey: role}
	}
	return c
}

func containersOf(byIP map[string]Container) func(context.Context, netip.Addr) (Container, error) {
	return func(_ context.Context, a netip.Addr) (Container, error) {
		if c, ok := byIP[a.String()]; ok {
			return c, nil
		}
		return Container{}, errUnknownAddr
	}
}

// who is a caller: its addresses, and what its sources answer.
type who struct {
	remote, local string
	bridge        bool
	uid           int // -1: unknown
	unit          string
}

func (w who) caller(src Sources) *Caller {
	if w.uid == 0 && w.unit == "" {
		w.uid = -1
	}
	src.UID = func(netip.AddrPort, netip.AddrPort) (int, error) {
		if w.uid < 0 {
			return 0, errors.New("no such socket")
		}
		return w.uid, nil
	}
	src.Unit = func(netip.AddrPort, netip.AddrPort) (string, error) { return w.unit, nil }
	return NewCaller(netip.MustParseAddrPort(w.remote), netip.MustParseAddrPort(w.local), w.bridge, &src)
}

func served(names ...string) func(string) bool {
	return func(n string) bool {
		for _, s := range names {
			if s == n {
				return true
			}
		}
		return false
	}
}

// TestPolicy_Routes is the router's table: clients: rules, container
// labels, and the host's default.
func TestPolicy_Routes(t *testing.T) {
	byIP := containersOf(map[string]Container{
		"172.17.0.2": labelled("a", "role-a"),
		"172.17.0.3": labelled("b", "role-b"),
		"172.17.0.4": labelled("plain", ""),
		"172.17.0.5": labelled("bogus", "bogus"),
		"172.17.0.6": labelled("none", "none"),
		"172.17.0.7": labelled("front", "frontend"),
		"172.17.0.8": labelled("x", "role-a"),
	})
	down := func(context.Context, netip.Addr) (Container, error) { return Container{}, errEngineDown }
	p := &Policy{LabelKey: labelKey, Logger: slog.New(slog.DiscardHandler), Clients: []Rule{
		{From: "clients[0]", CIDR: netip.MustParsePrefix("10.1.0.0/16"), Role: "batch"},
		{From: "clients[1]", ContainerLabel: "frontend", Role: "role-a"},
		{From: "clients[2]", CIDR: netip.MustParsePrefix("172.17.0.8/32"), Role: "none"},
	}}
	has := served("host", "role-a", "role-b", "batch")
	type lookup = func(context.Context, netip.Addr) (Container, error)
	tests := []struct {
		name  string
		ctrs  lookup
		w     who
		want  string
		err   error // errors.Is; nil with want
		notID bool  // an identification error (not ErrNoRole)
	}{
		{name: "loopback gets the host role", ctrs: byIP, w: who{remote: "127.0.0.1:40000", local: "127.0.0.1:9254"}, want: "host"},
		{name: "ipv6 loopback", ctrs: byIP, w: who{remote: "[::1]:40000", local: "[::1]:9254"}, want: "host"},
		{name: "host on a local address", ctrs: byIP, w: who{remote: "169.254.169.254:40000", local: "169.254.169.254:80"}, want: "host"},
		{name: "container labelled role-a", ctrs: byIP, w: who{remote: "172.17.0.2:40000", local: "172.17.0.1:9254", bridge: true}, want: "role-a"},
		{name: "container labelled role-b", ctrs: byIP, w: who{remote: "172.17.0.3:40000", local: "172.17.0.1:9254", bridge: true}, want: "role-b"},
		{name: "unlabelled container gets none", ctrs: byIP, w: who{remote: "172.17.0.4:40000", local: "172.17.0.1:9254", bridge: true}, err: ErrNoRole},
		{name: "unknown label gets none", ctrs: byIP, w: who{remote: "172.17.0.5:40000", local: "172.17.0.1:9254", bridge: true}, err: ErrNoRole},
		{name: "label none gets none", ctrs: byIP, w: who{remote: "172.17.0.6:40000", local: "172.17.0.1:9254", bridge: true}, err: ErrNoRole},
		{name: "container_label rule", ctrs: byIP, w: who{remote: "172.17.0.7:40000", local: "172.17.0.1:9254", bridge: true}, want: "role-a"},
		{name: "cidr rule none beats the label", ctrs: byIP, w: who{remote: "172.17.0.8:40000", local: "172.17.0.1:9254", bridge: true}, err: ErrNoRole},
		{name: "cidr rule for a non-container", w: who{remote: "10.1.2.3:40000", local: "10.1.0.1:9254"}, want: "batch"},
		{name: "unknown container is an error, not the default", ctrs: byIP, w: who{remote: "172.17.0.99:40000", local: "172.17.0.1:9254", bridge: true}, err: errUnknownAddr, notID: true},
		{name: "engine down is an error, not the default", ctrs: down, w: who{remote: "172.17.0.2:40000", local: "172.17.0.1:9254", bridge: true}, err: errEngineDown, notID: true},
		{name: "remote peer with containers on is looked up", ctrs: byIP, w: who{remote: "172.17.0.3:40000", local: "192.168.1.5:9254"}, want: "role-b"},
		{name: "remote peer not a container is an error", ctrs: byIP, w: who{remote: "192.168.1.9:40000", local: "192.168.1.5:9254"}, err: errUnknownAddr, notID: true},
		{name: "containers off: remote peer gets none", w: who{remote: "192.168.1.9:40000", local: "192.168.1.5:9254"}, err: ErrNoRole},
		{name: "containers off: container on a link-local listener gets none", w: who{remote: "172.17.0.2:40000", local: "169.254.169.254:80"}, err: ErrNoRole},
		{name: "containers off: bridge caller is an error", w: who{remote: "172.17.0.2:40000", local: "172.17.0.1:9254", bridge: true}, err: ErrNotYetIdentified, notID: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.Decide(context.Background(), tc.w.caller(Sources{Container: tc.ctrs}), "host", has)
			if tc.err == nil {
				if err != nil || got != tc.want {
					t.Fatalf("got %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, tc.err) || got != "" {
				t.Fatalf("got %q, %v; want error %v", got, err, tc.err)
			}
			if tc.notID && (errors.Is(err, ErrNoRole) || !errors.Is(err, ErrNotYetIdentified)) {
				t.Errorf("got %v: an unidentified container must get ErrNotYetIdentified, not ErrNoRole", err)
			}
		})
	}
}

// TestPolicy_ContainerDefault: containers.default_role is what an
// unlabelled container gets; an unknown label is still refused.
func TestPolicy_ContainerDefault(t *testing.T) {
	p := &Policy{LabelKey: labelKey, ContainerDefault: "role-b"}
	src := Sources{Container: containersOf(map[string]Container{"172.17.0.4": labelled("plain", ""), "172.17.0.5": labelled("bogus", "bogus")})}
	has := served("role-b")
	if got, err := p.Decide(context.Background(), who{remote: "172.17.0.4:1", local: "172.17.0.1:9254"}.caller(src), "host", has); err != nil || got != "role-b" {
		t.Errorf("unlabelled: got %q, %v; want role-b", got, err)
	}
	if _, err := p.Decide(context.Background(), who{remote: "172.17.0.5:1", local: "172.17.0.1:9254"}.caller(src), "host", has); !errors.Is(err, ErrNoRole) {
		t.Errorf("unknown label: got %v, want ErrNoRole", err)
	}
}

// TestPolicy_UnknownLabelLogged: the log says why a container gets
// nothing, once per container and label.
func TestPolicy_UnknownLabelLogged(t *testing.T) {
	var logs bytes.Buffer
	p := &Policy{LabelKey: labelKey, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	src := Sources{Container: containersOf(map[string]Container{"172.17.0.5": labelled("0123456789abcdef", "bogus")})}
	for range 3 {
		if _, err := p.Decide(context.Background(), who{remote: "172.17.0.5:1", local: "172.17.0.1:9254"}.caller(src), "host", served()); !errors.Is(err, ErrNoRole) {
			t.Fatalf("got %v, want ErrNoRole", err)
		}
	}
	out := logs.String()
	if strings.Count(out, "does not offer") != 1 || !strings.Contains(out, "imdsd.role=bogus") || !strings.Contains(out, "0123456789ab") {
		t.Errorf("want one warning naming the label and the container, got:\n%s", out)
	}
}

// TestPolicy_NamesTheContainer: the caller keeps the container the policy
// identified, so status and the audit line need no second lookup; a host
// caller names none.
func TestPolicy_NamesTheContainer(t *testing.T) {
	p := &Policy{LabelKey: labelKey}
	src := Sources{Container: containersOf(map[string]Container{"172.17.0.4": labelled("web-1", "role-b")})}
	c := who{remote: "172.17.0.4:1", local: "172.17.0.1:9254"}.caller(src)
	role, err := p.Decide(context.Background(), c, "host", served("role-b"))
	if err != nil || role != "role-b" || c.ContainerName() != "ctr-web-1" {
		t.Errorf("container: got %q, %q, %v; want role-b, ctr-web-1", role, c.ContainerName(), err)
	}
	c = who{remote: "127.0.0.1:1", local: "127.0.0.1:9254"}.caller(src)
	role, err = p.Decide(context.Background(), c, "host", served("role-b"))
	if err != nil || role != "host" || c.ContainerName() != "" {
		t.Errorf("host caller: got %q, %q, %v; want host and no container", role, c.ContainerName(), err)
	}
}

// TestPolicy_Users: the local-user rules, grants then the gate, then the
// clients: rules, then the default role.
func TestPolicy_Users(t *testing.T) {
	p, err := Compile(Spec{
		AllowUIDs: []string{"alice", "1004"}, AllowGroups: []string{"developers"},
		// The group rule is listed first: a user's own entry still wins.
		UserRoles: []UserGrant{{Group: "admins", Role: "admin"}, {User: "bob", Role: "readonly"}, {User: "dave", Role: "readonly"}},
		Clients:   []Rule{{From: "clients[0]", CIDR: netip.MustParsePrefix("127.0.0.0/8"), Role: "loopback"}},
		LabelKey:  labelKey,
	}, []string{"dev", "readonly", "admin", "loopback"}, testUsers())
	if err != nil {
		t.Fatal(err)
	}
	has := served("dev", "readonly", "admin", "loopback")
	local := func(uid int) who { return who{remote: "127.0.0.1:40000", local: "127.0.0.1:9254", uid: uid} }
	for _, tc := range []struct {
		name    string
		w       who
		role    string
		wantErr error
	}{
		{"allowed uid by name passes the gate to the clients rules", local(1000), "loopback", nil},
		{"allowed uid by number", local(1004), "loopback", nil},
		{"user rule names its role", local(1001), "readonly", nil},
		{"member of an allowed group", local(1002), "loopback", nil},
		{"a user's own entry beats a group's listed first", local(1003), "readonly", nil},
		// The gate stands before clients:: a cidr rule matching loopback
		// must not hand a role to a uid the gate refuses.
		{"uid without a rule gets none, whatever clients: says", local(1005), "", ErrNoRole},
		{"root without a rule gets none", who{remote: "127.0.0.1:40000", local: "127.0.0.1:9254", uid: 0, unit: "x"}, "", ErrNoRole},
		{"unknown uid is refused", who{remote: "127.0.0.1:40000", local: "127.0.0.1:9254", uid: -1}, "", ErrUnidentified},
		{"unknown uid from the address it connected to is refused", who{remote: "172.17.0.1:40000", local: "172.17.0.1:9254", uid: -1}, "", ErrUnidentified},
		{"a remote caller is left to the client rules", who{remote: "172.17.0.5:40000", local: "172.17.0.1:9254", uid: -1}, "", ErrNoRole},
	} {
		t.Run(tc.name, func(t *testing.T) {
			role, err := p.Decide(context.Background(), tc.w.caller(Sources{Groups: func(uid int) []int { g, _ := testUsers().Groups(uid); return g }}), "dev", has)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("got err %v, want %v", err, tc.wantErr)
			}
			if role != tc.role {
				t.Fatalf("got role %q, want %q", role, tc.role)
			}
		})
	}
}

// TestPolicy_Units: a systemd unit's processes get its role, before the
// user rules; a process in no unit, or in a user's unit of the same
// name, is left to the next steps.
func TestPolicy_Units(t *testing.T) {
	p, err := Compile(Spec{
		Units:     []UnitGrant{{Unit: "billing.service", Role: "billing"}},
		AllowUIDs: []string{"alice"},
		LabelKey:  labelKey,
	}, []string{"dev", "billing"}, testUsers())
	if err != nil {
		t.Fatal(err)
	}
	has := served("dev", "billing")
	for _, tc := range []struct {
		name string
		w    who
		role string
		err  error
	}{
		{"the unit's process, of a uid the gate refuses", who{remote: "127.0.0.1:1", local: "127.0.0.1:9254", uid: 1005, unit: "billing.service"}, "billing", nil},
		{"another unit falls to the gate", who{remote: "127.0.0.1:1", local: "127.0.0.1:9254", uid: 1000, unit: "cron.service"}, "dev", nil},
		{"no unit, refused by the gate", who{remote: "127.0.0.1:1", local: "127.0.0.1:9254", uid: 1001}, "", ErrNoRole},
	} {
		t.Run(tc.name, func(t *testing.T) {
			role, err := p.Decide(context.Background(), tc.w.caller(Sources{}), "dev", has)
			if role != tc.role || !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("got %q, %v; want %q, %v", role, err, tc.role, tc.err)
			}
		})
	}
	// A unit whose lookup fails is refused, never matched by what follows.
	broken := NewCaller(netip.MustParseAddrPort("127.0.0.1:1"), netip.MustParseAddrPort("127.0.0.1:9254"), false, &Sources{
		Unit: func(netip.AddrPort, netip.AddrPort) (string, error) { return "", errors.New("socket gone") },
		UID:  func(netip.AddrPort, netip.AddrPort) (int, error) { return 1000, nil },
	})
	if _, err := p.Decide(context.Background(), broken, "dev", has); !errors.Is(err, ErrUnidentified) {
		t.Errorf("unit lookup failed: got %v, want ErrUnidentified", err)
	}
}

func TestCompile_Errors(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec Spec
		want error
		text string
	}{
		{"unknown user", Spec{AllowUIDs: []string{"mallory"}}, ErrUnknownUser, `allow_uids "mallory": no such user`},
		{"unknown group", Spec{AllowGroups: []string{"nobody-group"}}, ErrUnknownGroup, `allow_groups "nobody-group"`},
		{"role not served", Spec{UserRoles: []UserGrant{{User: "bob", Role: "prod"}}}, ErrUnservedRole, `user_roles "prod"`},
		{"unit role not served", Spec{Units: []UnitGrant{{Unit: "a.service", Role: "prod"}}}, ErrUnservedRole, `units[0] "prod"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.spec, []string{"dev"}, testUsers())
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("got %v, want %v naming %s", err, tc.want, tc.text)
			}
		})
	}
}

func TestGroupCache_CachesPerUID(t *testing.T) {
	db := testUsers()
	now := time.Unix(1000, 0)
	g := &GroupCache{DB: db, TTL: time.Minute, Now: func() time.Time { return now }}
	for range 100 {
		if got := g.Groups(1002); len(got) != 2 {
			t.Fatalf("got %v, want carol's two groups", got)
		}
	}
	if db.calls != 1 {
		t.Fatalf("group lookups for 100 requests of one uid = %d, want 1", db.calls)
	}
	now = now.Add(2 * time.Minute)
	g.Groups(1002)
	if db.calls != 2 {
		t.Errorf("after the TTL: %d lookups, want 2", db.calls)
	}
}
