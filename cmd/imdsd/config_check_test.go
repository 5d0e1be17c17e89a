package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigCheck(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	path := filepath.Join(t.TempDir(), "imdsd.yaml")
	cfg := "role_arn: arn:aws:iam::123456789012:role/demo\nexternal_id: flat-secret-1\nmin_remaining: 40m\n" +
		"roles:\n  web: {role_arn: arn:aws:iam::123456789012:role/web, external_id: nested-secret-2}\n" +
		"clients:\n  - {cidr: 10.1.0.0/16, role: web}\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	if code := run(context.Background(), []string{"config", "check", path}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{
		"valid; roles: demo, web (default demo)",
		`external_id: "<redacted>"` + "\n",
		`min_remaining: "40m0s"` + "\n",
		`imdsv2: "optional"  # default`,
		`listen: ["127.0.0.1:9254", "[::1]:9254"]  # default`,
		"roles:\n  web: {role_arn: 'arn:aws:iam::123456789012:role/web', external_id: \"<redacted>\"}",
		"clients:\n  - {cidr: 10.1.0.0/16, role: web}",
		"mfa_session_duration:", "metrics_listen:", "control_socket:", "state_file:", "rate_limit: 1024  # default",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lacks %q", want)
		}
	}
	for _, secret := range []string{"flat-secret-1", "nested-secret-2"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("printed the secret %q", secret)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out.String())
	}
	// Every key of the table is printed.
	for k := range fileKeys(&Config{}) {
		if !strings.Contains(out.String(), "\n"+k+":") {
			t.Errorf("key %s not printed", k)
		}
	}
}

func TestConfigCheck_Invalid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "imdsd.yaml")
	_ = os.WriteFile(path, []byte("role_arn: arn:aws:iam::123456789012:role/demo\nmfa_session_duration: 48h\n"), 0o600)
	var out, errOut strings.Builder
	code := run(context.Background(), []string{"config", "check", path}, &out, &errOut)
	if code != exitUsage || out.Len() != 0 || !strings.Contains(errOut.String(), `mfa_session_duration "48h0m0s": must be between 15m and 36h`) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}
