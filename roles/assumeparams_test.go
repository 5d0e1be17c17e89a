package roles

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imdsd/imdsd/internal/motoserver"
	"github.com/imdsd/imdsd/internal/stsrecord"
)

const sourceKeyID = "AKIAEXAMPLEPARAMS001"

// sourceEnv gives the default chain static source credentials only.
func sourceEnv(t *testing.T) {
	t.Helper()
	isolateAWSEnv(t, "", "")
	t.Setenv("AWS_ACCESS_KEY_ID", sourceKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "source-secret")
}

// TestAssume_ParamsReachSTS: session tags, transitive tag keys, the
// source identity, the session policy and the managed policy ARNs are in
// what STS received (moto ignores all of them, so only the recorder can
// tell), and the policy file is read again at the next fetch.
func TestAssume_ParamsReachSTS(t *testing.T) {
	sourceEnv(t)
	rec := stsrecord.Start(t, motoserver.Start(t).URL)
	pol := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(pol, []byte(`{ "Version": "2012-10-17", "Statement": [] }`), 0o600); err != nil {
		t.Fatal(err)
	}
	def := Def{RoleARN: "arn:aws:iam::123456789012:role/app", STSEndpoint: rec.URL,
		Tags:              NewTags(map[string]string{"team": "infra", "cost-center": "42"}),
		TransitiveTagKeys: NewList([]string{"team"}),
		SourceIdentity:    "alice@example.com",
		PolicyFile:        pol,
		PolicyARNs:        NewList([]string{"arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::123456789012:policy/app-scope"}),
	}
	r, err := Resolve(context.Background(), def.Spec())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Fetcher.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	last, ok := rec.Last("AssumeRole")
	if !ok {
		t.Fatal("STS received no AssumeRole")
	}
	for k, want := range map[string]string{
		"Tags.member.1.Key": "cost-center", "Tags.member.1.Value": "42",
		"Tags.member.2.Key": "team", "Tags.member.2.Value": "infra",
		"TransitiveTagKeys.member.1": "team",
		"SourceIdentity":             "alice@example.com",
		"Policy":                     `{"Version":"2012-10-17","Statement":[]}`,
		"PolicyArns.member.1.arn":    "arn:aws:iam::123456789012:policy/app-scope",
		"PolicyArns.member.2.arn":    "arn:aws:iam::aws:policy/ReadOnlyAccess",
		"DurationSeconds":            "3600",
	} {
		if got := last.Form.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if last.AccessKeyID != sourceKeyID {
		t.Errorf("signed with %q, want the source key %s", last.AccessKeyID, sourceKeyID)
	}
	if err := os.WriteFile(pol, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Fetcher.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	if last, _ := rec.Last("AssumeRole"); !strings.Contains(last.Form.Get("Policy"), "Deny") {
		t.Errorf("after the policy file changed, STS received Policy %q", last.Form.Get("Policy"))
	}
}

// TestAssume_NoParamsSendsNone: a role without the parameters sends none
// of them.
func TestAssume_NoParamsSendsNone(t *testing.T) {
	sourceEnv(t)
	rec := stsrecord.Start(t, motoserver.Start(t).URL)
	r, err := Resolve(context.Background(), Def{RoleARN: "arn:aws:iam::123456789012:role/app", STSEndpoint: rec.URL}.Spec())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Fetcher.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	last, _ := rec.Last("AssumeRole")
	for k := range last.Form {
		if strings.HasPrefix(k, "Tags") || strings.HasPrefix(k, "TransitiveTagKeys") || strings.HasPrefix(k, "PolicyArns") || k == "Policy" || k == "SourceIdentity" {
			t.Errorf("STS received %s with no such key configured", k)
		}
	}
}

// TestTags_Canonical: equal pairs give equal Tags whatever the order they
// were built in, so a reload compares them with ==; Map gives them back.
func TestTags_Canonical(t *testing.T) {
	a := NewTags(map[string]string{"b": "2", "a": "1", "c=d": "x y"})
	b := NewTags(map[string]string{"c=d": "x y", "a": "1", "b": "2"})
	if a != b {
		t.Errorf("%s != %s", a, b)
	}
	if m := a.Map(); len(m) != 3 || m["c=d"] != "x y" {
		t.Errorf("Map() = %v", m)
	}
	if NewTags(nil) != "" || NewTags(map[string]string{}) != "" || Tags("").Map() != nil {
		t.Error("no tags must be the zero Tags")
	}
	if NewList([]string{"b", "a", "b"}) != NewList([]string{"a", "b"}) {
		t.Error("List is not canonical")
	}
	if got := NewList([]string{"b", "a"}).Items(); len(got) != 2 || got[0] != "a" {
		t.Errorf("Items() = %v", got)
	}
}

// TestReadPolicy: a policy file must be one JSON object of at most 2,048
// characters once compacted; errors name the file, and say what is wrong.
func TestReadPolicy(t *testing.T) {
	dir := t.TempDir()
	big := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + strings.Repeat("b", 2048) + `"}]}`
	// Indentation that compacts away does not count.
	spacious := "{\n" + strings.Repeat(" ", 4000) + `"Version": "2012-10-17"}`
	for _, tc := range []struct {
		name, content string
		want          error
	}{
		{"ok", `{"Version":"2012-10-17"}`, nil},
		{"spaces do not count", spacious, nil},
		{"not JSON", `Version: 2012-10-17`, ErrInvalidPolicy},
		{"an array", `[]`, ErrInvalidPolicy},
		{"too long", big, ErrPolicyTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := ReadPolicy(p)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file", err)
			}
			if err == nil && strings.ContainsAny(got, "\n ") {
				t.Errorf("policy %q not compacted", got)
			}
		})
	}
	if _, err := ReadPolicy(filepath.Join(dir, "absent")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestCheckSource: conflicting sources and parameters out of STS's limits
// are refused, each naming its key.
func TestCheckSource(t *testing.T) {
	arn := "arn:aws:iam::123456789012:role/a"
	many := map[string]string{}
	for i := range 51 {
		many[strings.Repeat("k", i+1)] = "v"
	}
	for _, tc := range []struct {
		name string
		def  Def
		key  string
		want error
	}{
		{"ok", Def{RoleARN: arn, Tags: NewTags(map[string]string{"a": "b"}), TransitiveTagKeys: NewList([]string{"a"}), SourceIdentity: "alice"}, "", nil},
		{"web identity ok", Def{RoleARN: arn, WebIdentityTokenFile: "/t"}, "", nil},
		{"two token sources", Def{RoleARN: arn, WebIdentityTokenFile: "/t", WebIdentityGitHub: true}, KeyWebIdentityTokenFile, ErrSourceConflict},
		{"web identity and profile", Def{RoleARN: arn, WebIdentityTokenFile: "/t", Profile: "p"}, "profile", ErrSourceConflict},
		{"source_role and profile", Def{RoleARN: arn, SourceRole: "b", Profile: "p"}, "source_role", ErrSourceConflict},
		{"web identity and Roles Anywhere", Def{RoleARN: arn, WebIdentityTokenFile: "/t", TrustAnchorARN: "arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/x"}, "trust_anchor_arn", ErrSourceConflict},
		{"source_role and Roles Anywhere", Def{RoleARN: arn, SourceRole: "b", TrustAnchorARN: "arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/x"}, "source_role", ErrSourceConflict},
		{"web identity without role_arn", Def{WebIdentityTokenFile: "/t"}, "role_arn", ErrSourceNeedsRoleARN},
		{"source_role without role_arn", Def{SourceRole: "b"}, "role_arn", ErrSourceNeedsRoleARN},
		{"audience without GitHub", Def{RoleARN: arn, WebIdentityTokenFile: "/t", WebIdentityAudience: "x"}, "web_identity_audience", ErrAudienceNoGitHub},
		{"tags with web identity", Def{RoleARN: arn, WebIdentityGitHub: true, Tags: NewTags(map[string]string{"a": "b"})}, "tags", ErrNotForWebIdentity},
		{"source identity with web identity", Def{RoleARN: arn, WebIdentityGitHub: true, SourceIdentity: "alice"}, "source_identity", ErrNotForWebIdentity},
		{"external id with web identity", Def{RoleARN: arn, WebIdentityGitHub: true, ExternalID: "secret-ext"}, "external_id", ErrNotForWebIdentity},
		{"51 tags", Def{RoleARN: arn, Tags: NewTags(many)}, "tags", ErrInvalidTags},
		{"bad tag key", Def{RoleARN: arn, Tags: NewTags(map[string]string{"a;b": "c"})}, "tags", ErrInvalidTags},
		{"long tag value", Def{RoleARN: arn, Tags: NewTags(map[string]string{"a": strings.Repeat("v", 257)})}, "tags", ErrInvalidTags},
		{"transitive key not a tag", Def{RoleARN: arn, Tags: NewTags(map[string]string{"a": "b"}), TransitiveTagKeys: NewList([]string{"z"})}, "transitive_tag_keys", ErrInvalidTransitiveKeys},
		{"bad source identity", Def{RoleARN: arn, SourceIdentity: "a b"}, "source_identity", ErrInvalidSourceIdentity},
		{"bad policy ARN", Def{RoleARN: arn, PolicyARNs: NewList([]string{"arn:aws:iam::123456789012:role/x"})}, "policy_arns", ErrInvalidPolicyARN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.def.CheckSource()
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			var ke *KeyError
			if err != nil && (!errors.As(err, &ke) || ke.Key != tc.key) {
				t.Errorf("error %v names key %v, want %s", err, ke, tc.key)
			}
			if err != nil && strings.Contains(err.Error(), "secret-ext") {
				t.Error("the error holds the external ID")
			}
		})
	}
}

// TestResolve_PolicyFileErrorNamesTheRole: Resolve reads the policy file
// (so config check finds a missing or bad one) and names the key under
// the role's name.
func TestResolve_PolicyFileErrorNamesTheRole(t *testing.T) {
	sourceEnv(t)
	missing := filepath.Join(t.TempDir(), "missing.json")
	_, err := Resolve(context.Background(), Def{Name: "prod", RoleARN: "arn:aws:iam::123456789012:role/app", PolicyFile: missing}.Spec())
	var ke *KeyError
	if !errors.As(err, &ke) || ke.Key != "roles.prod.policy_file" || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err %v, want roles.prod.policy_file and the missing file", err)
	}
}
