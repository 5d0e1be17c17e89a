package main

// Issue 18 end to end: the imdsd binary with a role whose only source is a
// web identity token file (no AWS_* variable, no shared files), served to
// aws-sdk-go-v2, the AWS CLI v2 and boto3 through IMDS. moto is behind
// internal/stsrecord, so the test checks the token STS received.
// Rotation mid-run is proven in-process (daemon's
// TestDaemon_WebIdentityTokenFileAndChainThroughIMDS): the binary offers no
// way to force a refresh before its half-hour margin.

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imdsd/imdsd/internal/motoserver"
	"github.com/imdsd/imdsd/internal/stsrecord"
)

func TestE2E_WebIdentityTokenFile(t *testing.T) {
	e2eIsolateEnv(t)
	bin := buildImdsd(t)
	moto := motoserver.Start(t)
	rec := stsrecord.Start(t, moto.URL)
	enc := base64.RawURLEncoding
	token := enc.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." +
		enc.EncodeToString([]byte(fmt.Sprintf(`{"iss":"https://gitlab.example.com","aud":"sts.amazonaws.com","exp":%d,"jti":"%s"}`, time.Now().Add(time.Hour).Unix(), e2eRandomHex(t)))) +
		"." + e2eRandomHex(t)
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const roleARN = "arn:aws:iam::123456789012:role/ci-deploy"
	const want = "arn:aws:sts::123456789012:assumed-role/ci-deploy/ci-job"
	d := e2eStartDaemon(t, bin, "webid", nil, "--role-arn", roleARN, "--web-identity-token-file", file,
		"--session-name", "ci-job", "--sts-endpoint", rec.URL, "--region", e2eRegion)

	last, ok := rec.Last("AssumeRoleWithWebIdentity")
	if !ok || last.Form.Get("WebIdentityToken") != token || last.AccessKeyID != "" {
		t.Fatal("STS did not receive the token file's token, unsigned (tokens not shown)")
	}
	t.Run("go-sdk-v2", func(t *testing.T) {
		arn, err := e2eGoSDKIdentity(d.url("127.0.0.1"), moto.URL)
		if err != nil || arn != want {
			t.Errorf("aws-sdk-go-v2: %q, %v; want %s", arn, err, want)
		}
	})
	outputs := map[string]string{}
	for _, c := range e2eClients() {
		if c.name != "aws-cli-v2-debian" && c.name != "boto3" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			argv, err := c.resolve()
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			stdout, stderr, err := e2eRunClient(argv, d.url("127.0.0.1"), moto.URL)
			outputs[c.name] = stdout + stderr
			if err != nil {
				t.Fatalf("%s: %v\nstderr (tail):\n%s", c.name, err, e2eTail(stderr, 5))
			}
			if arn := e2eLastLine(stdout); arn != want {
				t.Errorf("got ARN %q, want %s", arn, want)
			}
		})
	}
	outputs["imdsd"] = d.Out.String()
	for name, out := range outputs {
		if strings.Contains(out, token) {
			t.Errorf("%s's output holds the web identity token (not shown)", name)
		}
	}
}
