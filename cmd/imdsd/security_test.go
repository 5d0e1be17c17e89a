package main

import (
	"context"
	"errors"
	"github.com/imdsd/imdsd/config"
	"io"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/imdsd/imdsd/imds"
)

// fakeUsers is a userDB built from maps.
type fakeUsers struct {
	uids   map[string]int
	gids   map[string]int
	groups map[int][]int
	calls  int
}

var _ userDB = (*fakeUsers)(nil)

func (f *fakeUsers) UID(v string) (int, error) {
	if id, ok := f.uids[v]; ok {
		return id, nil
	}
	return 0, errUnknownUser
}

func (f *fakeUsers) GID(v string) (int, error) {
	if id, ok := f.gids[v]; ok {
		return id, nil
	}
	return 0, errUnknownGroup
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

func TestUserRules_Decide(t *testing.T) {
	cfg := config.Users{
		AllowUIDs:   []string{"alice", "1004"},
		AllowGroups: []string{"developers"},
		UserRoles: []config.UserRole{
			{User: "bob", Role: "readonly"},
			{Group: "admins", Role: "admin"},
		},
	}
	rules, err := compileUserRules(cfg, []string{"dev", "readonly", "admin"}, testUsers())
	if err != nil {
		t.Fatal(err)
	}
	caller := func(uid int, has bool) imds.Caller {
		return imds.Caller{Remote: netip.MustParseAddrPort("127.0.0.1:40000"), UID: uid, HasUID: has}
	}
	for _, tc := range []struct {
		name    string
		c       imds.Caller
		role    string
		wantErr error
	}{
		{"allowed uid by name gets the default role", caller(1000, true), "", nil},
		{"allowed uid by number", caller(1004, true), "", nil},
		{"user rule names its role", caller(1001, true), "readonly", nil},
		{"member of an allowed group", caller(1002, true), "", nil},
		{"group rule beats allow_groups", caller(1003, true), "admin", nil},
		{"uid without a rule gets none", caller(1005, true), "", imds.ErrNoRole},
		{"root without a rule gets none", caller(0, true), "", imds.ErrNoRole},
		{"unknown uid is refused", caller(1000, false), "", imds.ErrForbidden},
		{"unknown uid from the address it connected to is refused", imds.Caller{
			Remote: netip.MustParseAddrPort("172.17.0.1:40000"), Local: netip.MustParseAddrPort("172.17.0.1:9254")}, "", imds.ErrForbidden},
		{"a container (no socket here) is left to the client rules", imds.Caller{
			Remote: netip.MustParseAddrPort("172.17.0.5:40000"), Local: netip.MustParseAddrPort("172.17.0.1:9254")}, "", errNotLocal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			role, err := rules.decide(tc.c)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("decide: err %v, want %v", err, tc.wantErr)
			}
			if role != tc.role {
				t.Fatalf("decide: role %q, want %q", role, tc.role)
			}
		})
	}
}

func TestUserRules_CompileErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  config.Users
		want error
	}{
		{"unknown user", config.Users{AllowUIDs: []string{"mallory"}}, errUnknownUser},
		{"unknown group", config.Users{AllowGroups: []string{"nobody-group"}}, errUnknownGroup},
		{"role not served", config.Users{UserRoles: []config.UserRole{{User: "bob", Role: "prod"}}}, errUnservedRole},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := compileUserRules(tc.cfg, []string{"dev"}, testUsers())
			if !errors.Is(err, tc.want) {
				t.Fatalf("compile: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestUserRules_Filter: the filter serves the default role through the
// source, a named role through the lookup, and refuses the rest.
func TestUserRules_Filter(t *testing.T) {
	rules, err := compileUserRules(config.Users{AllowUIDs: []string{"alice"}, UserRoles: []config.UserRole{{User: "bob", Role: "readonly"}}}, []string{"dev", "readonly"}, testUsers())
	if err != nil {
		t.Fatal(err)
	}
	src := imds.SourceFunc(func(_ context.Context, c imds.Caller) (imds.Role, error) {
		if !c.Remote.Addr().IsLoopback() {
			return imds.Role{Name: "container-role"}, nil
		}
		return imds.Role{Name: "dev"}, nil
	})
	named := func(n string) (imds.Role, bool) { return imds.Role{Name: n}, n == "readonly" }
	f := rules.filter(src, named)
	local := netip.MustParseAddrPort("127.0.0.1:9254")
	for _, tc := range []struct {
		uid     int
		has     bool
		remote  string
		role    string
		wantErr error
	}{
		{1000, true, "127.0.0.1:40000", "dev", nil},
		{1001, true, "127.0.0.1:40000", "readonly", nil},
		{1002, true, "127.0.0.1:40000", "", imds.ErrNoRole},
		{0, false, "127.0.0.1:40000", "", imds.ErrForbidden},
		{0, false, "172.17.0.5:40000", "container-role", nil},
	} {
		c := imds.Caller{Remote: netip.MustParseAddrPort(tc.remote), Local: local, UID: tc.uid, HasUID: tc.has}
		r, err := f.Credentials(context.Background(), c)
		if r.Name != tc.role || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
			t.Errorf("uid %d (known %v): role %q err %v, want %q %v", tc.uid, tc.has, r.Name, err, tc.role, tc.wantErr)
		}
	}
}

func TestGroupCache_CachesPerUID(t *testing.T) {
	db := testUsers()
	rules, err := compileUserRules(config.Users{AllowGroups: []string{"developers"}}, nil, db)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if _, err := rules.decide(imds.Caller{UID: 1002, HasUID: true}); err != nil {
			t.Fatal(err)
		}
	}
	if db.calls != 1 {
		t.Fatalf("group lookups for 100 requests of one uid = %d, want 1", db.calls)
	}
}

func TestHarden_Options(t *testing.T) {
	cfg := config.Default()
	cfg.Listen = []string{"127.0.0.1:9254", "172.17.0.1:9254"}
	cfg.Security.AllowedHosts = []string{"imds.internal"}
	cfg.Security.HopLimit = 1
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts, err := harden(cfg, log, []string{"dev"}, nil, imds.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"169.254.169.254", "localhost", "127.0.0.1", "172.17.0.1", "imds.internal"} {
		found := false
		for _, a := range opts.AllowedHosts {
			found = found || a == h
		}
		if !found {
			t.Errorf("AllowedHosts %v lacks %q", opts.AllowedHosts, h)
		}
	}
	if opts.RateLimit.PerSecond != imds.DefaultRatePerSecond || opts.MaxConnsPerClient != imds.DefaultMaxConnsPerClient || opts.HopLimit != 1 {
		t.Errorf("limits: %+v conns %d hop %d", opts.RateLimit, opts.MaxConnsPerClient, opts.HopLimit)
	}
	if opts.Audit == nil {
		t.Error("Audit logger not set")
	}
	if opts.IdentifyCaller != nil {
		t.Error("IdentifyCaller set without local-user rules: the uid lookup would run for nothing")
	}
	cfg.Security.Users.AllowUIDs = []string{"0"}
	opts, err = harden(cfg, log, []string{"dev"}, nil, imds.Options{Source: imds.SourceFunc(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if opts.IdentifyCaller == nil {
		t.Error("IdentifyCaller not set with allow_uids")
	}
}
