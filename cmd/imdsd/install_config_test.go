package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imdsd/imdsd/packaging"
)

// TestWriteNewConfig: `imdsd install --role-arn ARN --profile P --region R`
// writes a config that validates as serve loads it, with those values,
// and keeps every comment of the template (issue 16 item 4). The service
// install itself is e2e-sysv.sh's and e2e-systemd.sh's.
func TestWriteNewConfig(t *testing.T) {
	dir := t.TempDir()
	// The profile must exist for the config to resolve; nothing else of
	// this machine's AWS setup may leak in.
	awsConfig := filepath.Join(dir, "aws-config")
	if err := os.WriteFile(awsConfig, []byte("[profile ops]\nregion = eu-west-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", awsConfig)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))

	path := filepath.Join(dir, "etc", "imdsd.yaml")
	const arn = "arn:aws:iam::123456789012:role/web-admin"
	if err := writeNewConfig(path, configSettings{roleARN: arn, profile: "ops", region: "eu-west-2"}); err != nil {
		t.Fatalf("writeNewConfig: %v", err)
	}
	cfg, msg := checkConfig(path)
	if msg != "" {
		t.Fatalf("the written config does not validate: %s", msg)
	}
	if cfg.Role.RoleARN != arn || cfg.Role.Profile != "ops" || cfg.Role.Region != "eu-west-2" {
		t.Errorf("loaded role_arn %q, profile %q, region %q; want %q, ops, eu-west-2",
			cfg.Role.RoleARN, cfg.Role.Profile, cfg.Role.Region, arn)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(packaging.DefaultConfig())) {
		line = strings.TrimRight(line, "\n")
		if !strings.HasPrefix(line, "#") || strings.HasPrefix(line, "#role_arn:") ||
			strings.HasPrefix(line, "#profile:") || strings.HasPrefix(line, "#region:") {
			continue
		}
		if !strings.Contains(string(b), line+"\n") {
			t.Errorf("comment %q of the template is missing", line)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v (%v), want 0640", fi.Mode().Perm(), err)
	}
}

// TestWriteNewConfig_NeverOverwrites: a config that exists is left as it
// is, and the error says what to do.
func TestWriteNewConfig_NeverOverwrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "imdsd.yaml")
	const mine = "role_arn: arn:aws:iam::123456789012:role/mine\n"
	if err := os.WriteFile(path, []byte(mine), 0o600); err != nil {
		t.Fatal(err)
	}
	err := writeNewConfig(path, configSettings{roleARN: "arn:aws:iam::123456789012:role/other"})
	if err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("writeNewConfig over an existing config: %v, want an error saying it exists", err)
	}
	if b, _ := os.ReadFile(path); string(b) != mine {
		t.Errorf("the existing config changed to %q", b)
	}
}

// TestInstall_RoleARNRefusals: the refusals of `imdsd install --role-arn`
// come before anything is installed: --profile or --region alone, and a
// config that exists.
func TestInstall_RoleARNRefusals(t *testing.T) {
	existing := filepath.Join(t.TempDir(), "imdsd.yaml")
	if err := os.WriteFile(existing, []byte("role_arn: arn:aws:iam::123456789012:role/mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		args []string
		want string
	}{
		"profile alone": {[]string{"--config", existing, "--profile", "ops"}, "go with --role-arn"},
		"region alone":  {[]string{"--config", existing, "--region", "us-east-1"}, "go with --role-arn"},
		"config exists": {[]string{"--config", existing, "--role-arn", "arn:aws:iam::123456789012:role/x"}, "exists"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			if code := runInstall(t.Context(), tc.args, &stdout, &stderr); code != exitUsage {
				t.Errorf("exit %d, want %d; stderr %q", code, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tc.want)
			}
		})
	}
}
