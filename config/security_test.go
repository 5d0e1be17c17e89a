package config

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeConfig_SecurityKeys(t *testing.T) {
	c := Default()
	err := Decode([]byte(`
allowed_hosts: [imds.internal]
hop_limit: 1
rate_limit: 50
rate_burst: 100
max_conns_per_client: 8
max_conns: 64
allow_uids: [1000, alice]
allow_groups: developers
user_roles:
  - {user: bob, role: readonly}
  - {group: admins, role: admin}
units:
  - {unit: billing.service, role: billing}
`), &c)
	if err != nil {
		t.Fatal(err)
	}
	want := Security{
		AllowedHosts: []string{"imds.internal"}, HopLimit: 1, RateLimit: 50, RateBurst: 100, MaxConnsPerClient: 8, MaxConns: 64,
		Users: Users{
			AllowUIDs: []string{"1000", "alice"}, AllowGroups: []string{"developers"},
			UserRoles: []UserRole{{User: "bob", Role: "readonly"}, {Group: "admins", Role: "admin"}},
			Units:     []UnitRole{{Unit: "billing.service", Role: "billing"}},
		},
	}
	if d := cmp.Diff(want, c.Security); d != "" {
		t.Fatalf("security config (-want +got):\n%s", d)
	}
	for _, bad := range []string{
		"hop_limit: one\n", "rate_limit: 1.5\n", "allow_uids: {a: b}\n",
		"user_roles: bob\n", "user_roles: [{user: bob, role: x, extra: 1}]\n",
		"units: billing.service\n", "units: [{unit: a.service, role: x, user: 1}]\n",
	} {
		c := Default()
		if err := Decode([]byte(bad), &c); err == nil {
			t.Errorf("decode %q: no error", bad)
		}
	}
}

func TestValidateConfig_Security(t *testing.T) {
	base := func() Config {
		c := Default()
		c.Role.RoleARN = "arn:aws:iam::123456789012:role/app"
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
		{"unit without a suffix", func(c *Config) { c.Security.Users.Units = []UnitRole{{Unit: "billing", Role: "r"}} }, "units[0]"},
		{"unit with a slash", func(c *Config) { c.Security.Users.Units = []UnitRole{{Unit: "a/b.service", Role: "r"}} }, "units[0]"},
		{"unit without a role", func(c *Config) { c.Security.Users.Units = []UnitRole{{Unit: "billing.service"}} }, "units[0]"},
		{"user role with user and group", func(c *Config) {
			c.Security.Users.UserRoles = []UserRole{{User: "bob", Group: "g", Role: "r"}}
		}, "user_roles"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.edit(&c)
			var ce *Error
			if err := c.Validate(field); !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("validate: %v, want a ConfigError on %s", err, tc.field)
			}
		})
	}
	c := base()
	c.Security.HopLimit = 1
	if err := c.Validate(field); err != nil {
		t.Fatalf("hop_limit 1: %v", err)
	}
}
