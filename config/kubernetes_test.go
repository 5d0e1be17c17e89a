package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/imdsd/imdsd/roles"
)

func TestKubernetes_Decode(t *testing.T) {
	c := Default()
	src := `
roles:
  app: {role_arn: "arn:aws:iam::123456789012:role/app"}
clients:
  - {namespace: team, service_account: web, role: app}
kubernetes:
  enabled: true
  node_name: node-1
  node_ip: 10.0.0.7
  port: 8254
  pod_identity_port: 0
  base_role_arn: "arn:aws:iam::123456789012:role/"
  default_role: none
  namespace_restrictions: false
  namespace_restriction_format: regexp
  session_per_pod: false
  session_tags: false
  audience: sts.amazonaws.com
  wait: 500ms
  grace: 2m
  prefetch_grace: 30s
  max_roles: 10
  interfaces: [cali+, eth1]
  print_rules: true
  region: eu-west-1
`
	if err := Decode([]byte(src), &c); err != nil {
		t.Fatal(err)
	}
	want := Kubernetes{Enabled: true, NodeName: "node-1", NodeIP: "10.0.0.7", Port: 8254, BaseRoleARN: "arn:aws:iam::123456789012:role/", DefaultRole: "none",
		NamespaceRestrictionFormat: "regexp", Audience: "sts.amazonaws.com", Wait: 500 * time.Millisecond,
		Grace: 2 * time.Minute, PrefetchGrace: 30 * time.Second, MaxRoles: 10, Interfaces: []string{"cali+", "eth1"}, PrintRules: true, Region: "eu-west-1"}
	if !reflect.DeepEqual(c.Kubernetes, want) {
		t.Errorf("got %+v\nwant %+v", c.Kubernetes, want)
	}
	if r := c.Clients[0]; r.Namespace != "team" || r.ServiceAccount != "web" || r.Role != "app" {
		t.Errorf("clients[0] = %+v", r)
	}
	if err := c.Validate(func(k string) string { return k }); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if err := Decode([]byte("kubernetes: {nodename: x}\n"), &c); err == nil || !strings.Contains(err.Error(), "kubernetes.nodename") {
		t.Errorf("unknown key: got %v, want it named", err)
	}
}

func TestKubernetes_Defaults(t *testing.T) {
	k := Default().Kubernetes
	if !k.NamespaceRestrictions || !k.SessionPerPod || k.Audience != DefaultAudience || k.DefaultRole != "" || k.Enabled {
		t.Errorf("defaults %+v: want restrictions and per-pod sessions on, no default role, off", k)
	}
	if got := k.Node(func(v string) string { return map[string]string{NodeNameEnv: "from-env"}[v] }); got != "from-env" {
		t.Errorf("Node() = %q, want $NODE_NAME", got)
	}
	if _, err := k.RequireNode(func(string) string { return "" }); !errors.Is(err, ErrNodeName) || !strings.Contains(err.Error(), "kubernetes.node_name") {
		t.Errorf("RequireNode with neither: %v", err)
	}
	k.NodeName = "set"
	if got := k.Node(func(string) string { return "from-env" }); got != "set" {
		t.Errorf("Node() = %q, want node_name", got)
	}
}

func TestKubernetes_Validate(t *testing.T) {
	tests := map[string]struct {
		mod  func(*Kubernetes)
		want error
		key  string
	}{
		"defaults":               {mod: func(*Kubernetes) {}},
		"base arn without slash": {mod: func(k *Kubernetes) { k.BaseRoleARN = "arn:aws:iam::123456789012:role" }, want: ErrBadBaseARN, key: "kubernetes.base_role_arn"},
		"base arn with a path":   {mod: func(k *Kubernetes) { k.BaseRoleARN = "arn:aws:iam::123456789012:role/pods/" }},
		"unknown default role":   {mod: func(k *Kubernetes) { k.DefaultRole = "db" }, want: ErrRuleUnknownRole, key: "kubernetes.default_role"},
		"default role":           {mod: func(k *Kubernetes) { k.DefaultRole = "web" }},
		"bad format":             {mod: func(k *Kubernetes) { k.NamespaceRestrictionFormat = "regex" }, want: ErrBadRestrictFmt, key: "kubernetes.namespace_restriction_format"},
		"empty audience":         {mod: func(k *Kubernetes) { k.Audience = "" }, want: ErrBadAudience, key: "kubernetes.audience"},
		"wait too long":          {mod: func(k *Kubernetes) { k.Wait = 2 * time.Second }, want: ErrBadPodWait, key: "kubernetes.wait"},
		"negative grace":         {mod: func(k *Kubernetes) { k.Grace = -time.Second }, want: ErrBadGrace, key: "kubernetes.grace"},
		"negative prefetch":      {mod: func(k *Kubernetes) { k.PrefetchGrace = -time.Second }, want: ErrBadGrace, key: "kubernetes.prefetch_grace"},
		"max roles zero":         {mod: func(k *Kubernetes) { k.MaxRoles = 0 }, want: ErrBadMaxRoles, key: "kubernetes.max_roles"},
		"bad interface":          {mod: func(k *Kubernetes) { k.Interfaces = []string{"cali*"} }, want: ErrBadPodInterface, key: "kubernetes.interfaces"},
		"node ip with port":      {mod: func(k *Kubernetes) { k.NodeIP = "10.0.0.1:80" }, want: ErrBadNodeIP, key: "kubernetes.node_ip"},
		"port zero":              {mod: func(k *Kubernetes) { k.Port = 0 }, want: ErrBadPort, key: "kubernetes.port"},
		"pod identity on port":   {mod: func(k *Kubernetes) { k.PodIdentityPort = k.Port }, want: ErrBadPodIdentityPort, key: "kubernetes.pod_identity_port"},
		"bad region":             {mod: func(k *Kubernetes) { k.Region = "mars" }, want: ErrBadRegion, key: "kubernetes.region"},
		"bad sts endpoint":       {mod: func(k *Kubernetes) { k.STSEndpoint = "ftp://x" }, want: roles.ErrInvalidEndpoint, key: "kubernetes.sts_endpoint"},
		"unknown source role":    {mod: func(k *Kubernetes) { k.SourceRole = "db" }, want: ErrRuleUnknownRole, key: "kubernetes.source_role"},
		"source role and region": {mod: func(k *Kubernetes) { k.SourceRole, k.Region = "web", "us-east-1" }, want: ErrSourceAndProfile, key: "kubernetes.source_role"},
		"rule by namespace":      {mod: func(*Kubernetes) {}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := Default()
			c.Roles = []NamedRole{{Def: roles.Def{Name: "web", RoleARN: "arn:aws:iam::123456789012:role/web"}}}
			c.Clients = []ClientRule{{Namespace: "team", Role: "web"}}
			tc.mod(&c.Kubernetes)
			err := c.Validate(func(k string) string { return k })
			if tc.want == nil {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("got %v, want %v naming %s", err, tc.want, tc.key)
			}
		})
	}
}

// TestKubernetes_NodeAddr: node_ip wins over $NODE_IP; neither, or a bad
// one, is an error naming the key and the variable.
func TestKubernetes_NodeAddr(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == NodeIPEnv {
				return v
			}
			return ""
		}
	}
	tests := []struct {
		key, env, want string
		err            error
	}{
		{key: "10.0.0.7", env: "10.9.9.9", want: "10.0.0.7"},
		{env: "fd00::7", want: "fd00::7"},
		{env: "::ffff:10.1.2.3", want: "10.1.2.3"},
		{err: ErrNodeIP},
		{env: "node-1", err: ErrBadNodeIP},
	}
	for _, tc := range tests {
		a, err := Kubernetes{NodeIP: tc.key}.NodeAddr(env(tc.env))
		if tc.err != nil {
			if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), "kubernetes.node_ip") {
				t.Errorf("node_ip %q, $NODE_IP %q: %v, want %v naming kubernetes.node_ip", tc.key, tc.env, err, tc.err)
			}
			continue
		}
		if err != nil || a.String() != tc.want {
			t.Errorf("node_ip %q, $NODE_IP %q: %v %v, want %s", tc.key, tc.env, a, err, tc.want)
		}
	}
}
