package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/imdsd/imdsd/roles"
)

const webYAML = `
role_arn: arn:aws:iam::123456789012:role/ci-deploy
web_identity_token_file: /run/ci/token
roles:
  prod:
    role_arn: arn:aws:iam::210987654321:role/prod
    source_role: ci-deploy
    tags: {team: platform, pipeline: 1234}
    transitive_tag_keys: team
    source_identity: ci-1234
    policy_file: /etc/imdsd/prod-policy.json
    policy_arns: [arn:aws:iam::aws:policy/ReadOnlyAccess]
  gh:
    role_arn: arn:aws:iam::123456789012:role/gh
    web_identity_github: true
    web_identity_audience: sts.amazonaws.com.cn
`

// TestRoleParams_Decode: the web identity, chaining and AssumeRole keys
// decode as flat keys and under roles.NAME, maps and lists into their
// canonical forms.
func TestRoleParams_Decode(t *testing.T) {
	c := Default()
	if err := Decode([]byte(webYAML), &c); err != nil {
		t.Fatal(err)
	}
	if c.Role.WebIdentityTokenFile != "/run/ci/token" {
		t.Errorf("flat web_identity_token_file %q", c.Role.WebIdentityTokenFile)
	}
	prod, gh := c.Roles[0].Def, c.Roles[1].Def
	want := roles.Def{Name: "prod", RoleARN: "arn:aws:iam::210987654321:role/prod", SourceRole: "ci-deploy",
		Tags: roles.NewTags(map[string]string{"team": "platform", "pipeline": "1234"}), TransitiveTagKeys: roles.NewList([]string{"team"}),
		SourceIdentity: "ci-1234", PolicyFile: "/etc/imdsd/prod-policy.json", PolicyARNs: roles.NewList([]string{"arn:aws:iam::aws:policy/ReadOnlyAccess"})}
	if prod != want {
		t.Errorf("prod = %+v\nwant %+v", prod, want)
	}
	if !gh.WebIdentityGitHub || gh.WebIdentityAudience != "sts.amazonaws.com.cn" {
		t.Errorf("gh = %+v", gh)
	}
	if err := c.Validate(func(k string) string { return k }); err != nil {
		t.Errorf("Validate: %v", err)
	}
	for _, bad := range []string{"roles: {x: {role_arn: arn:aws:iam::123456789012:role/x, tags: [a, b]}}", "roles: {x: {role_arn: arn:aws:iam::123456789012:role/x, tags: {a: {b: c}}}}"} {
		c := Default()
		if err := Decode([]byte(bad), &c); err == nil || !strings.Contains(err.Error(), "tags") {
			t.Errorf("%s: err %v, want one naming tags", bad, err)
		}
	}
}

// TestRoleParams_Flags: --tags KEY=VALUE and --policy-arns may repeat.
func TestRoleParams_Flags(t *testing.T) {
	f := NewFlags("serve")
	c, err := f.Parse([]string{"--role-arn", "arn:aws:iam::123456789012:role/a", "--tags", "team=infra", "--tags", "env=dev",
		"--policy-arns", "arn:aws:iam::aws:policy/B", "--policy-arns", "arn:aws:iam::aws:policy/A", "--source-identity", "alice"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if c.Role.Tags != roles.NewTags(map[string]string{"env": "dev", "team": "infra"}) || c.Role.SourceIdentity != "alice" {
		t.Errorf("tags %s, source identity %q", c.Role.Tags, c.Role.SourceIdentity)
	}
	if got := c.Role.PolicyARNs.Items(); len(got) != 2 || got[0] != "arn:aws:iam::aws:policy/A" {
		t.Errorf("policy ARNs %v", got)
	}
	if _, err := NewFlags("serve").Parse([]string{"--tags", "novalue"}, func(string) string { return "" }); err == nil {
		t.Error("--tags without = accepted")
	}
}

// TestRoleParams_ValidateNamesTheKey: config check refuses a bad source
// or parameter naming the key, under roles.NAME for a named role.
func TestRoleParams_ValidateNamesTheKey(t *testing.T) {
	base := "role_arn: arn:aws:iam::123456789012:role/ci-deploy\nweb_identity_token_file: /t\n"
	for _, tc := range []struct {
		name, yaml, field string
		want              error
	}{
		{"unknown source_role", "roles: {b: {role_arn: arn:aws:iam::123456789012:role/b, source_role: nope}}", "roles.b.source_role", roles.ErrUnknownSourceRole},
		{"cycle", "roles: {b: {role_arn: arn:aws:iam::123456789012:role/b, source_role: c}, c: {role_arn: arn:aws:iam::123456789012:role/c, source_role: b}}", "roles.b.source_role", roles.ErrSourceRoleCycle},
		{"tags on web identity", "tags: {a: b}", "tags", roles.ErrNotForWebIdentity},
		{"named web identity with profile", "roles: {w: {role_arn: arn:aws:iam::123456789012:role/w, profile: p, web_identity_github: true}}", "roles.w.profile", roles.ErrSourceConflict},
		{"transitive key not a tag", "roles: {b: {role_arn: arn:aws:iam::123456789012:role/b, tags: {a: b}, transitive_tag_keys: [z]}}", "roles.b.transitive_tag_keys", roles.ErrInvalidTransitiveKeys},
		{"policy ARN", "roles: {b: {role_arn: arn:aws:iam::123456789012:role/b, policy_arns: nope}}", "roles.b.policy_arns", roles.ErrInvalidPolicyARN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			if err := Decode([]byte(base+tc.yaml), &c); err != nil {
				t.Fatal(err)
			}
			err := c.Validate(func(k string) string { return k })
			var ce *Error
			if !errors.Is(err, tc.want) || !errors.As(err, &ce) || ce.Field != tc.field {
				t.Errorf("err %v, want %v on %s", err, tc.want, tc.field)
			}
		})
	}
}

// TestRoleParams_ReloadDiffAndPrint: a changed tag is a changed key for
// the reload diff, and config check prints the values as YAML.
func TestRoleParams_ReloadDiffAndPrint(t *testing.T) {
	a, b := Default(), Default()
	a.Role.Tags = roles.NewTags(map[string]string{"team": "a"})
	b.Role.Tags = roles.NewTags(map[string]string{"team": "b"})
	if ch := Changed(a, b); len(ch) != 1 || ch[0].Name != "tags" {
		t.Errorf("Changed = %v, want tags", ch)
	}
	if got := formatValue(reflect.ValueOf(a.Role.Tags)); got != `{"team": "a"}` {
		t.Errorf("tags print as %s", got)
	}
	if got := formatValue(reflect.ValueOf(roles.NewList([]string{"y", "x"}))); got != `["x", "y"]` {
		t.Errorf("list prints as %s", got)
	}
}
