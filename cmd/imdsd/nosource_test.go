package main

// Issue 16 item 5, end to end: an imdsd started with no source credentials
// at all (no AWS_* variable, an empty HOME, no shared files) says what to
// do in its log, in status and in the IMDS error document, instead of the
// SDK's "no EC2 IMDS role found, … AWS_EC2_METADATA_DISABLED".

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	sdkimds "github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/smithy-go"

	"github.com/imdsd/imdsd/control"
	"github.com/imdsd/imdsd/internal/testproc"
	"github.com/imdsd/imdsd/internal/testutil"
)

const noSourceHint = "no source credentials for role e2e-role: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, give a profile (--profile), or run aws sso login"

func TestE2E_NoSourceCredentials(t *testing.T) {
	bin := buildImdsd(t)
	// STS must never be asked: there is nothing to sign with.
	var stsCalls atomic.Int64
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		stsCalls.Add(1)
		http.Error(w, "no call expected", http.StatusInternalServerError)
	}))
	t.Cleanup(sts.Close)

	dir := t.TempDir()
	port := strconv.Itoa(testproc.FreePort(t))
	socket := filepath.Join(dir, "control.sock")
	cmd := exec.Command(bin, "serve", "--role-arn", e2eRoleARN, "--sts-endpoint", sts.URL, "--region", e2eRegion,
		"--listen", "127.0.0.1:"+port, "--log-format", "json",
		"--control-socket", socket, "--state-file", filepath.Join(dir, "state.json"))
	// cleanEnv drops every AWS_* variable and points the shared files at
	// the null device; the last HOME wins, an empty one.
	cmd.Env = cleanEnv(nil, "HOME="+t.TempDir())
	d, err := testproc.Start(cmd)
	if err != nil {
		t.Fatalf("start imdsd: %v", err)
	}
	t.Cleanup(func() {
		if _, err := d.Stop(10 * time.Second); err != nil {
			t.Errorf("imdsd: %v", err)
		}
	})

	testutil.WaitFor(t, 30*time.Second, func() bool {
		if d.Exited() {
			t.Fatalf("imdsd exited (code %d):\n%s", d.ExitCode(), d.Out)
		}
		return strings.Contains(d.Out.String(), `"refresh failed"`)
	}, "the first refresh to fail")

	// The Go SDK's own instance-profile provider reports the document's
	// Code and Message.
	client := sdkimds.New(sdkimds.Options{Endpoint: "http://127.0.0.1:" + port, EnableFallback: aws.FalseTernary})
	_, docErr := ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = client }).Retrieve(context.Background())
	var api smithy.APIError
	if !errors.As(docErr, &api) {
		t.Fatalf("the SDK's error %v carries no document code", docErr)
	}
	if api.ErrorCode() != "CredentialsUnavailable" || api.ErrorMessage() != noSourceHint {
		t.Errorf("IMDS error document: %v; want CredentialsUnavailable: %s", docErr, noSourceHint)
	}

	var st control.Status
	if err := (control.Client{Path: socket}).Call(context.Background(), control.CmdStatus, nil, &st); err != nil {
		t.Fatalf("status: %v", err)
	}
	if len(st.Roles) != 1 || st.Roles[0].Reason != noSourceHint || st.Roles[0].ErrorKind != "no-source" {
		t.Errorf("status roles %+v, want one no-source role with reason %q", st.Roles, noSourceHint)
	}

	out := d.Out.String()
	if !strings.Contains(out, `"err":"`+noSourceHint+`"`) {
		t.Errorf("log lacks the hint as the failure:\n%s", out)
	}
	for _, blame := range []string{"EC2 IMDS", "AWS_EC2_METADATA_DISABLED"} {
		// (The SDK's own prefix, "failed to get … EC2 IMDS role
		// credentials", is not imdsd's: the document's Message is.)
		if strings.Contains(out, blame) || strings.Contains(api.ErrorMessage(), blame) || strings.Contains(st.Roles[0].Reason, blame) {
			t.Errorf("%q still shown:\nlog:\n%s\ndocument: %s", blame, out, api.ErrorMessage())
		}
	}
	if n := stsCalls.Load(); n != 0 {
		t.Errorf("STS called %d times with no source credentials, want 0", n)
	}
}
