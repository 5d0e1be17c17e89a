package config

import (
	"errors"
	"github.com/imdsd/imdsd/roles"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const multiYAML = `
role_arn: arn:aws:iam::123456789012:role/host
roles:
  web:
    role_arn: arn:aws:iam::123456789012:role/web
    duration: 2h
  batch: {profile: batch, region: eu-west-1, external_id: ext-12}
clients:
  - {cidr: 10.1.0.0/16, role: batch}
  - {container_label: frontend, role: web}
  - {cidr: 172.17.0.9/32, container_label: x, role: none}
containers:
  enabled: true
  interfaces: [virbr0]
  cidrs: [10.200.0.0/16]
  docker_socket: /var/run/docker.sock
  port: 19254
  endpoint_port: 19255
  default_role: web
container_endpoint:
  listen: [127.0.0.1:9255]
  token_file: /run/imdsd/token
  token_group: docker
`

func TestDecodeConfig_Multi(t *testing.T) {
	got := Default()
	if err := Decode([]byte(multiYAML), &got); err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Role.RoleARN = "arn:aws:iam::123456789012:role/host"
	want.Roles = []NamedRole{
		{Def: roles.Def{Name: "web", RoleARN: "arn:aws:iam::123456789012:role/web", Duration: 2 * time.Hour}, Line: 4},
		{Def: roles.Def{Name: "batch", Profile: "batch", Region: "eu-west-1", ExternalID: "ext-12"}, Line: 7},
	}
	want.Clients = []ClientRule{
		{CIDR: netip.MustParsePrefix("10.1.0.0/16"), Role: "batch", Line: 9},
		{ContainerLabel: "frontend", Role: "web", Line: 10},
		{CIDR: netip.MustParsePrefix("172.17.0.9/32"), ContainerLabel: "x", Role: "none", Line: 11},
	}
	want.Containers = Containers{Enabled: true, Interfaces: []string{"virbr0"}, CIDRs: []string{"10.200.0.0/16"},
		Sockets: []string{"/var/run/docker.sock"}, Port: 19254, EndpointPort: 19255, DefaultRole: "web"}
	want.ContainerEndpoint = ContainerEndpoint{Listen: []string{"127.0.0.1:9255"}, TokenFile: "/run/imdsd/token", TokenGroup: "docker"}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
		t.Errorf("config (-want +got):\n%s", d)
	}
	if err := got.Validate(func(k string) string { return k }); err != nil {
		t.Errorf("validate: %v", err)
	}
}

func TestDecodeConfig_MultiErrors(t *testing.T) {
	tests := map[string]struct{ yaml, want string }{
		"unknown role key":      {"roles:\n  web:\n    role_arn: arn:aws:iam::123456789012:role/web\n    colour: red\n", `line 4: "roles.web.colour": unknown key`},
		"role not a mapping":    {"roles:\n  web: arn\n", "line 2: roles.web: must be a mapping"},
		"roles not a mapping":   {"roles: [a]\n", "line 1: roles: must be a mapping"},
		"duplicate role":        {"roles:\n  a: {profile: x}\n  a: {profile: y}\n", "line 3: roles.a: key given twice"},
		"bad role duration":     {"roles:\n  a: {profile: x, duration: soon}\n", `line 2: roles.a.duration: "soon" must be a duration`},
		"clients not a list":    {"clients: {cidr: 10.0.0.0/8}\n", "line 1: clients: must be a list"},
		"unknown rule key":      {"clients:\n  - {uid: 1000, role: a}\n", `line 2: "clients[0].uid": unknown key`},
		"bad cidr":              {"clients:\n  - {cidr: 10.0.0.0/99, role: a}\n", `line 2: clients[0].cidr "10.0.0.0/99": must be a CIDR`},
		"unknown container key": {"containers:\n  enable: true\n", `line 2: "containers.enable": unknown key`},
		"containers not bool":   {"containers:\n  enabled: yes please\n", "line 2: containers.enabled: must be true or false"},
		"port not int":          {"containers:\n  port: high\n", "line 2: containers.port: must be an integer"},
		"unknown endpoint key":  {"container_endpoint:\n  token: x\n", `line 2: "container_endpoint.token": unknown key`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := Default()
			err := Decode([]byte(tc.yaml), &c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestValidateConfig_Multi(t *testing.T) {
	base := func() Config {
		c := Default()
		c.Roles = []NamedRole{{Def: roles.Def{Name: "web", RoleARN: "arn:aws:iam::123456789012:role/web"}, Line: 3}}
		return c
	}
	tests := map[string]struct {
		mod  func(*Config)
		want error
		text string
	}{
		"roles alone need no flat role": {mod: func(*Config) {}},
		"nothing at all":                {mod: func(c *Config) { c.Roles = nil }, want: ErrNoRoleOrSource},
		"bad role name":                 {mod: func(c *Config) { c.Roles[0].Def.Name = "we b" }, want: ErrBadRoleName, text: "line 3: roles.we b"},
		"role named none":               {mod: func(c *Config) { c.Roles[0].Def.Name = "none" }, want: ErrBadRoleName},
		"role without source":           {mod: func(c *Config) { c.Roles[0].Def.RoleARN = "" }, want: ErrRoleNoSource},
		"role with a bad arn":           {mod: func(c *Config) { c.Roles[0].Def.RoleARN = "arn:nope" }, text: "roles.web.role_arn"},
		"rule without condition":        {mod: func(c *Config) { c.Clients = []ClientRule{{Role: "web"}} }, want: ErrRuleNoRole},
		"rule without role":             {mod: func(c *Config) { c.Clients = []ClientRule{{ContainerLabel: "x"}} }, want: ErrRuleNoRole},
		"rule naming an unknown role":   {mod: func(c *Config) { c.Clients = []ClientRule{{ContainerLabel: "x", Role: "db", Line: 7}} }, want: ErrRuleUnknownRole, text: `line 7: clients[0].role "db"`},
		"rule naming none":              {mod: func(c *Config) { c.Clients = []ClientRule{{ContainerLabel: "x", Role: "none"}} }},
		"bad interface":                 {mod: func(c *Config) { c.Containers.Interfaces = []string{"a-very-long-interface-name"} }, want: ErrBadInterface},
		"bad containers cidr":           {mod: func(c *Config) { c.Containers.CIDRs = []string{"10.0.0.0"} }, want: ErrBadCIDR},
		"relative socket":               {mod: func(c *Config) { c.Containers.Sockets = []string{"docker.sock"} }, want: ErrBadSocket},
		"port zero":                     {mod: func(c *Config) { c.Containers.Port = 0 }, want: ErrBadPort},
		"endpoint port off":             {mod: func(c *Config) { c.Containers.EndpointPort = 0 }},
		"endpoint not loopback":         {mod: func(c *Config) { c.ContainerEndpoint.Listen = []string{"0.0.0.0:9255"} }, want: ErrNotLoopback},
		"endpoint loopback v6":          {mod: func(c *Config) { c.ContainerEndpoint.Listen = []string{"[::1]:9255"} }},
		"relative token file":           {mod: func(c *Config) { c.ContainerEndpoint.TokenFile = "token" }, want: ErrBadSocket},
		"container default role":        {mod: func(c *Config) { c.Containers.DefaultRole = "web" }},
		"container default none":        {mod: func(c *Config) { c.Containers.DefaultRole = "none" }},
		"container default unknown":     {mod: func(c *Config) { c.Containers.DefaultRole = "db" }, want: ErrRuleUnknownRole},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := base()
			tc.mod(&c)
			err := c.Validate(func(k string) string { return k })
			switch {
			case tc.want == nil && tc.text == "":
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("got %v, want %v", err, tc.want)
			case tc.text != "" && (err == nil || !strings.Contains(err.Error(), tc.text)):
				t.Fatalf("got %v, want it to contain %q", err, tc.text)
			}
		})
	}
}

func TestRoleDefs_Multi(t *testing.T) {
	c := Default()
	c.Role.Region, c.Role.STSEndpoint, c.Role.SessionName = "us-west-2", "http://127.0.0.1:5000", "laptop"
	c.Roles = []NamedRole{
		{Def: roles.Def{Name: "web", RoleARN: "arn:aws:iam::123456789012:role/web"}},
		{Def: roles.Def{Name: "eu", RoleARN: "arn:aws:iam::123456789012:role/eu", Region: "eu-west-1", Duration: 2 * time.Hour}},
	}
	defs := c.RoleDefs()
	if len(defs) != 2 {
		t.Fatalf("without a flat role: got %d defs, want the 2 named ones", len(defs))
	}
	if defs[0].Name != "web" || defs[0].Region != "us-west-2" || defs[0].STSEndpoint != "http://127.0.0.1:5000" || defs[0].SessionName != "laptop" {
		t.Errorf("web inherits the flat region, endpoint and session name: got %+v", defs[0])
	}
	if defs[1].Region != "eu-west-1" || defs[1].Duration != 2*time.Hour {
		t.Errorf("eu keeps its own region and duration: got %+v", defs[1])
	}
	c.Role.RoleARN = "arn:aws:iam::123456789012:role/host"
	defs = c.RoleDefs()
	if len(defs) != 3 || defs[0].Name != "" || defs[0].RoleARN != c.Role.RoleARN {
		t.Errorf("with a flat role: got %+v, want it first (the default) and unnamed", defs)
	}
}
