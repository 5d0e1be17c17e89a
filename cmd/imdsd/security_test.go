package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

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
	cfg := UserRulesConfig{
		AllowUIDs:   []string{"alice", "1004"},
		AllowGroups: []string{"developers"},
		UserRoles: []UserRole{
			{User: "bob", Role: "readonly"},
			{Group: "admins", Role: "admin"},
		},
	}
	rules, err := cfg.compile([]string{"dev", "readonly", "admin"}, testUsers())
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
		cfg  UserRulesConfig
		want error
	}{
		{"unknown user", UserRulesConfig{AllowUIDs: []string{"mallory"}}, errUnknownUser},
		{"unknown group", UserRulesConfig{AllowGroups: []string{"nobody-group"}}, errUnknownGroup},
		{"role not served", UserRulesConfig{UserRoles: []UserRole{{User: "bob", Role: "prod"}}}, errUnservedRole},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cfg.compile([]string{"dev"}, testUsers())
			if !errors.Is(err, tc.want) {
				t.Fatalf("compile: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestUserRules_Filter: the filter serves the default role through the
// source, a named role through the lookup, and refuses the rest.
func TestUserRules_Filter(t *testing.T) {
	rules, err := UserRulesConfig{AllowUIDs: []string{"alice"}, UserRoles: []UserRole{{User: "bob", Role: "readonly"}}}.
		compile([]string{"dev", "readonly"}, testUsers())
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
	rules, err := UserRulesConfig{AllowGroups: []string{"developers"}}.compile(nil, db)
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

func TestDecodeConfig_SecurityKeys(t *testing.T) {
	c := defaultConfig()
	err := decodeConfig([]byte(`
allowed_hosts: [imds.internal]
hop_limit: 1
rate_limit: 50
rate_burst: 100
max_conns_per_client: 8
allow_uids: [1000, alice]
allow_groups: developers
user_roles:
  - {user: bob, role: readonly}
  - {group: admins, role: admin}
`), &c)
	if err != nil {
		t.Fatal(err)
	}
	want := SecurityConfig{
		AllowedHosts: []string{"imds.internal"}, HopLimit: 1, RateLimit: 50, RateBurst: 100, MaxConnsPerClient: 8,
		Users: UserRulesConfig{
			AllowUIDs: []string{"1000", "alice"}, AllowGroups: []string{"developers"},
			UserRoles: []UserRole{{User: "bob", Role: "readonly"}, {Group: "admins", Role: "admin"}},
		},
	}
	if d := cmp.Diff(want, c.Security); d != "" {
		t.Fatalf("security config (-want +got):\n%s", d)
	}
	for _, bad := range []string{
		"hop_limit: one\n", "rate_limit: 1.5\n", "allow_uids: {a: b}\n",
		"user_roles: bob\n", "user_roles: [{user: bob, role: x, extra: 1}]\n",
	} {
		c := defaultConfig()
		if err := decodeConfig([]byte(bad), &c); err == nil {
			t.Errorf("decode %q: no error", bad)
		}
	}
}

func TestValidateConfig_Security(t *testing.T) {
	base := func() Config {
		c := defaultConfig()
		c.RoleARN = "arn:aws:iam::123456789012:role/app"
		return c
	}
	field := func(k string) string { return k }
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"hop limit 256", func(c *Config) { c.Security.HopLimit = 256 }, "hop_limit"},
		{"negative rate", func(c *Config) { c.Security.RateLimit = -1 }, "rate_limit"},
		{"negative conns", func(c *Config) { c.Security.MaxConnsPerClient = -1 }, "max_conns_per_client"},
		{"host with a path", func(c *Config) { c.Security.AllowedHosts = []string{"a/b"} }, "allowed_hosts"},
		{"user role without role", func(c *Config) { c.Security.Users.UserRoles = []UserRole{{User: "bob"}} }, "user_roles"},
		{"user role with user and group", func(c *Config) {
			c.Security.Users.UserRoles = []UserRole{{User: "bob", Group: "g", Role: "r"}}
		}, "user_roles"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.edit(&c)
			var ce *ConfigError
			if err := c.validate(field); !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("validate: %v, want a ConfigError on %s", err, tc.field)
			}
		})
	}
	c := base()
	c.Security.HopLimit = 1
	if err := c.validate(field); err != nil {
		t.Fatalf("hop_limit 1: %v", err)
	}
}

// TestLoadConfigFile_RefusesWritableByOthers: a config file the group or
// others can write is refused; 0600 and 0640 are accepted.
func TestLoadConfigFile_RefusesWritableByOthers(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		mode os.FileMode
		ok   bool
	}{{0o600, true}, {0o640, true}, {0o644, true}, {0o660, false}, {0o602, false}, {0o666, false}, {0o622, false}} {
		p := filepath.Join(dir, "imdsd.yaml")
		if err := os.WriteFile(p, []byte("region: eu-west-1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, tc.mode); err != nil {
			t.Fatal(err)
		}
		c := defaultConfig()
		err := loadConfigFile(p, &c)
		if tc.ok && err != nil {
			t.Errorf("mode %04o: %v, want accepted", tc.mode, err)
		}
		if !tc.ok && !errors.Is(err, errConfigWritable) {
			t.Errorf("mode %04o: %v, want errConfigWritable", tc.mode, err)
		}
		if !tc.ok && err != nil && !strings.Contains(err.Error(), "chmod go-w") {
			t.Errorf("mode %04o: message %q does not say how to fix it", tc.mode, err)
		}
	}
}

func TestHarden_Options(t *testing.T) {
	cfg := defaultConfig()
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
