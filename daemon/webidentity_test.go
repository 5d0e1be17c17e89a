package daemon

// Issue 18 end to end: a role sourced by a rotating web-identity token
// file, and a role chained from it, run by the daemon and served through
// IMDS to aws-sdk-go-v2's own instance-profile provider; STS is moto
// behind a recorder, so the test sees what STS received.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	sdkimds "github.com/aws/aws-sdk-go-v2/feature/ec2/imds"

	"github.com/imdsd/imdsd/config"
	"github.com/imdsd/imdsd/imds"
	"github.com/imdsd/imdsd/internal/motoserver"
	"github.com/imdsd/imdsd/internal/stsrecord"
	"github.com/imdsd/imdsd/roles"
)

// webJWT is an unsigned JWT-shaped token valid for an hour, unique.
func webJWT(t *testing.T) string {
	t.Helper()
	n := make([]byte, 8)
	_, _ = rand.Read(n)
	enc := base64.RawURLEncoding
	claims := fmt.Sprintf(`{"iss":"https://gitlab.example.com","aud":"sts.amazonaws.com","exp":%d,"jti":"%s"}`, time.Now().Add(time.Hour).Unix(), hex.EncodeToString(n))
	return enc.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." + enc.EncodeToString([]byte(claims)) + "." + enc.EncodeToString(n)
}

// waitUntil waits for cond, re-checking at each request STS receives;
// it fails the test after answerWait.
func waitUntil(t *testing.T, rec *stsrecord.Recorder, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(answerWait)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-rec.Changed():
		case <-time.After(50 * time.Millisecond): // the refresher stores after STS answers
		case <-deadline.C:
			t.Fatalf("%s: not within %s", what, answerWait)
		}
	}
}

func TestDaemon_WebIdentityTokenFileAndChainThroughIMDS(t *testing.T) {
	// No source credentials anywhere: the token is the only source.
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_SESSION_TOKEN", "")
	rec := stsrecord.Start(t, motoserver.Start(t).URL)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	first := webJWT(t)
	if err := os.WriteFile(tokenFile, []byte(first), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Role.RoleARN, cfg.Role.Region, cfg.Role.STSEndpoint = "arn:aws:iam::123456789012:role/ci-deploy", "us-east-1", rec.URL
	cfg.Role.WebIdentityTokenFile, cfg.Role.SessionName = tokenFile, "gitlab-job-7"
	cfg.Roles = []config.NamedRole{{Def: roles.Def{Name: "prod", RoleARN: "arn:aws:iam::210987654321:role/prod-deploy",
		SourceRole: "ci-deploy", Duration: 3 * time.Hour, Tags: roles.NewTags(map[string]string{"pipeline": "7"})}}}
	cfg.StateFile = filepath.Join(dir, "state.json")
	cfg.ControlSocket = config.ControlOff
	if err := cfg.Validate(func(k string) string { return k }); err != nil {
		t.Fatalf("config: %v", err)
	}
	var logs lockedBuffer
	o, err := New(context.Background(), Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx, nil) }()
	t.Cleanup(func() { cancel(); <-done })

	s, err := imds.New(imds.Options{Source: o, Region: "us-east-1", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	sdk := func() aws.Credentials {
		t.Helper()
		client := sdkimds.New(sdkimds.Options{Endpoint: srv.URL, EnableFallback: aws.FalseTernary})
		c, err := ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = client }).Retrieve(context.Background())
		if err != nil {
			t.Fatalf("SDK through IMDS: %v", err)
		}
		return c
	}

	set := o.set.Load()
	web, prod := set.byName["ci-deploy"], set.byName["prod"]
	if web == nil || prod == nil {
		t.Fatalf("roles %v, want ci-deploy and prod", set.order)
	}
	web.waitFetched(ctx, answerWait)
	prod.waitFetched(ctx, answerWait)

	got := sdk()
	webCreds, err := web.refresher.Credentials()
	if err != nil || got.AccessKeyID != webCreds.AccessKeyID {
		t.Fatalf("the SDK got %s, want the web identity role's %s (%v)", roles.KeyTail(got.AccessKeyID), roles.KeyTail(webCreds.AccessKeyID), err)
	}
	last, ok := rec.Last("AssumeRoleWithWebIdentity")
	if !ok || last.Form.Get("WebIdentityToken") != first || last.Form.Get("RoleSessionName") != "gitlab-job-7" {
		t.Fatal("STS did not receive the token file's token with the session name (tokens not shown)")
	}

	// The chained role: assumed with the web identity session's key, an
	// hour at most, with a warning that says so.
	prodAssume, ok := rec.Last("AssumeRole")
	if !ok || prodAssume.Form.Get("RoleArn") != "arn:aws:iam::210987654321:role/prod-deploy" {
		t.Fatal("STS received no AssumeRole of prod-deploy")
	}
	if prodAssume.AccessKeyID != webCreds.AccessKeyID || prodAssume.Form.Get("DurationSeconds") != "3600" || prodAssume.Form.Get("Tags.member.1.Value") != "7" {
		t.Errorf("prod's AssumeRole: key %s, DurationSeconds %s, tag %q; want ci-deploy's key %s, 3600, 7",
			roles.KeyTail(prodAssume.AccessKeyID), prodAssume.Form.Get("DurationSeconds"), prodAssume.Form.Get("Tags.member.1.Value"), roles.KeyTail(webCreds.AccessKeyID))
	}
	if !strings.Contains(logs.String(), "over the 1h0m0s AWS allows a chained role") {
		t.Errorf("no warning of the clamped duration in the log:\n%s", logs.String())
	}

	// Rotate the token file; the next refresh sends the new token, and the
	// SDK gets the new session through IMDS, with no restart.
	second := webJWT(t)
	if err := os.WriteFile(tokenFile+".new", []byte(second), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tokenFile+".new", tokenFile); err != nil {
		t.Fatal(err)
	}
	// A refresh now, as when the set falls due (restart's first pass
	// fetches at once; Refresh only wakes a loop with nothing due).
	web.restart(ctx)
	waitUntil(t, rec, "the rotated token sent", func() bool {
		l, _ := rec.Last("AssumeRoleWithWebIdentity")
		return l.Form.Get("WebIdentityToken") == second
	})
	waitUntil(t, rec, "the new session served", func() bool {
		c, err := web.refresher.Credentials()
		return err == nil && c.AccessKeyID != webCreds.AccessKeyID
	})
	if again := sdk(); again.AccessKeyID == got.AccessKeyID {
		t.Errorf("after the rotation the SDK still gets %s", roles.KeyTail(got.AccessKeyID))
	}
	for _, secret := range []string{first, second} {
		if strings.Contains(logs.String(), secret) {
			t.Fatal("the log holds a web identity token (log not shown)")
		}
	}
}

// TestBuildSet_ChainReload: a reload that changes a chained role's source
// replaces the chained role too, though its own definition is the same;
// one that changes neither keeps both running entries.
func TestBuildSet_ChainReload(t *testing.T) {
	sourceEnv(t)
	cfg := config.Default()
	cfg.Role.RoleARN, cfg.Role.Region, cfg.Role.STSEndpoint = "arn:aws:iam::123456789012:role/base", "us-east-1", "http://127.0.0.1:1"
	cfg.Roles = []config.NamedRole{{Def: roles.Def{Name: "child", RoleARN: "arn:aws:iam::123456789012:role/child", SourceRole: "base"}}}
	log := slog.New(slog.DiscardHandler)
	first, err := buildSet(context.Background(), cfg, nil, log, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.byName["child"].source != first.byName["base"] {
		t.Fatal("child's source is not base's entry")
	}
	same, err := buildSet(context.Background(), cfg, first, log, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if same.byName["base"] != first.byName["base"] || same.byName["child"] != first.byName["child"] {
		t.Error("an unchanged reload replaced a role")
	}
	changed := cfg
	changed.Role.SessionName = "renamed"
	next, err := buildSet(context.Background(), changed, first, log, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if next.byName["base"] == first.byName["base"] || next.byName["child"] == first.byName["child"] {
		t.Error("changing base kept a running entry: child would still ask the old base")
	}
	if next.byName["child"].source != next.byName["base"] {
		t.Error("the new child is not sourced by the new base")
	}
	if strings.Join(next.order, ",") != "base,child" || next.def != "base" {
		t.Errorf("order %v default %q, want config order with base the default", next.order, next.def)
	}

	cycle := cfg
	cycle.Role.SourceRole = "child"
	cycle.Role.STSEndpoint = ""
	if _, err := buildSet(context.Background(), cycle, first, log, nil, nil); err == nil || !strings.Contains(err.Error(), "source_role") {
		t.Errorf("a cycle: %v, want an error naming source_role", err)
	}
}
