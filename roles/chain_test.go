package roles

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/imdsd/imdsd/internal/motoserver"
	"github.com/imdsd/imdsd/internal/stsrecord"
)

// TestChain_SourcedByAnotherRole: role B is assumed with role A's
// credentials (STS saw B's AssumeRole signed with A's session key), and
// its duration is clamped to the hour AWS allows a chained session, with
// a warning.
func TestChain_SourcedByAnotherRole(t *testing.T) {
	sourceEnv(t)
	rec := stsrecord.Start(t, motoserver.Start(t).URL)
	a, err := Resolve(context.Background(), Def{Name: "base", RoleARN: "arn:aws:iam::123456789012:role/base", STSEndpoint: rec.URL}.Spec())
	if err != nil {
		t.Fatal(err)
	}
	var aKey string
	source := aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
		c, err := a.Fetcher.Fetch(ctx)
		aKey = c.AccessKeyID
		return c, err
	})
	for _, tc := range []struct {
		duration time.Duration
		want     string
		warned   bool
	}{{0, "3600", false}, {30 * time.Minute, "1800", false}, {4 * time.Hour, "3600", true}} {
		spec := Def{Name: "cross", RoleARN: "arn:aws:iam::210987654321:role/cross", SourceRole: "base", STSEndpoint: rec.URL, Duration: tc.duration}.Spec()
		spec.SourceCredentials = source
		b, err := Resolve(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(b.Warnings) > 0; got != tc.warned || tc.warned && !strings.Contains(b.Warnings[0], "1h0m0s") {
			t.Errorf("duration %s: warnings %q, want warned=%v", tc.duration, b.Warnings, tc.warned)
		}
		if b.Source != "role base" {
			t.Errorf("Source %q, want role base", b.Source)
		}
		if _, err := b.Fetcher.Fetch(context.Background()); err != nil {
			t.Fatal(err)
		}
		last, _ := rec.Last("AssumeRole")
		if last.Form.Get("RoleArn") != "arn:aws:iam::210987654321:role/cross" || last.AccessKeyID != aKey || aKey == sourceKeyID {
			t.Errorf("B's AssumeRole: role %q signed by %s, want cross signed by A's session key %s", last.Form.Get("RoleArn"), last.AccessKeyID, aKey)
		}
		if got := last.Form.Get("DurationSeconds"); got != tc.want {
			t.Errorf("duration %s: DurationSeconds %q, want %s", tc.duration, got, tc.want)
		}
	}
}

// TestChain_NeedsItsSource: a chained role resolved without its source's
// credentials is an error naming the key, never the default chain.
func TestChain_NeedsItsSource(t *testing.T) {
	_, err := Resolve(context.Background(), Def{Name: "b", RoleARN: "arn:aws:iam::123456789012:role/b", SourceRole: "a"}.Spec())
	if !errors.Is(err, ErrNoSourceProvider) || !strings.Contains(err.Error(), "roles.b.source_role") {
		t.Errorf("err %v, want ErrNoSourceProvider naming roles.b.source_role", err)
	}
}

// TestChainOrder: each role comes after its source, otherwise config
// order; unknown names, self-sourcing and cycles are refused naming the
// key.
func TestChainOrder(t *testing.T) {
	arn := func(n string) string { return "arn:aws:iam::123456789012:role/" + n }
	for _, tc := range []struct {
		name string
		defs []Def
		want string
		err  error
		key  string
	}{
		{"no chains", []Def{{Name: "a"}, {Name: "b"}}, "a b", nil, ""},
		{"source after", []Def{{Name: "c", SourceRole: "b"}, {Name: "b", SourceRole: "a"}, {Name: "a"}}, "a b c", nil, ""},
		{"flat role by its ARN", []Def{{RoleARN: arn("flat"), SourceRole: "base"}, {Name: "base"}}, "base flat", nil, ""},
		{"unknown", []Def{{Name: "a", SourceRole: "nope"}}, "", ErrUnknownSourceRole, "roles.a.source_role"},
		{"self", []Def{{Name: "a", SourceRole: "a"}}, "", ErrSourceRoleSelf, "roles.a.source_role"},
		{"cycle", []Def{{Name: "a", SourceRole: "b"}, {Name: "b", SourceRole: "a"}}, "", ErrSourceRoleCycle, "roles.a.source_role"},
		{"flat in a cycle", []Def{{RoleARN: arn("flat"), SourceRole: "b"}, {Name: "b", SourceRole: "flat"}}, "", ErrSourceRoleCycle, "source_role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			order, err := ChainOrder(tc.defs)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err != nil {
				var ke *KeyError
				if !errors.As(err, &ke) || ke.Key != tc.key {
					t.Errorf("error %v, want it to name %s", err, tc.key)
				}
				return
			}
			var names []string
			for _, i := range order {
				names = append(names, DefName(tc.defs[i]))
			}
			if got := strings.Join(names, " "); got != tc.want {
				t.Errorf("order %q, want %q", got, tc.want)
			}
		})
	}
}
