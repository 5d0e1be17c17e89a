package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoadServeConfig_FlagsOverrideFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "imdsd.yaml")
	if err := os.WriteFile(path, []byte("role_arn: arn:aws:iam::123456789012:role/from-file\nregion: eu-west-1\nlisten: 127.0.0.1:1111\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cfg, code := loadServeConfig([]string{"--config", path, "--region", "us-west-2", "--listen", "127.0.0.1:2222", "--listen", "[::1]:2222"}, &stderr)
	if code >= 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if cfg.Role.RoleARN != "arn:aws:iam::123456789012:role/from-file" || cfg.Role.Region != "us-west-2" ||
		!cmp.Equal(cfg.Listen, []string{"127.0.0.1:2222", "[::1]:2222"}) {
		t.Errorf("merged config = %+v", cfg)
	}
}

func TestLoadServeConfig_Errors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badKey := write("bad.yaml", "role_arn: arn:aws:iam::123456789012:role/a\nlisten_on: x\n")
	badRegion := write("region.yaml", "role_arn: arn:aws:iam::123456789012:role/a\nregion: nowhere\n")
	arn := "arn:aws:iam::123456789012:role/a"
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--nope"}, "flag provided but not defined: -nope"},
		{"bad arn flag", []string{"--role-arn", "arn:nope"}, `--role-arn "arn:nope": not an IAM role ARN`},
		{"bad duration flag", []string{"--role-arn", arn, "--duration", "soon"}, `invalid value "soon" for flag -duration`},
		{"short duration flag", []string{"--role-arn", arn, "--duration", "5m"}, `--duration "5m0s"`},
		{"bad endpoint flag", []string{"--role-arn", arn, "--sts-endpoint", "localhost:5000"}, `--sts-endpoint "localhost:5000"`},
		{"bad imdsv2 flag", []string{"--role-arn", arn, "--imdsv2", "yes"}, `--imdsv2 "yes": must be optional or required`},
		{"missing config file", []string{"--config", filepath.Join(dir, "none.yaml")}, "no such file"},
		{"unknown key in file", []string{"--config", badKey}, `line 2: "listen_on": unknown key`},
		{"bad value in file names key", []string{"--config", badRegion}, `region "nowhere"`},
		{"stray argument", []string{"--role-arn", arn, "extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			_, code := loadServeConfig(tt.args, &stderr)
			if code != exitUsage {
				t.Fatalf("exit code = %d, want %d", code, exitUsage)
			}
			out := stderr.String()
			if !strings.Contains(out, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", out, tt.want)
			}
			if strings.Count(strings.TrimSpace(out), "\n") != 0 {
				t.Errorf("stderr is not one line: %q", out)
			}
		})
	}
}

func TestRun_Dispatch(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "imdsd ") {
		t.Errorf("version: code %d, out %q", code, out.String())
	}
	errb.Reset()
	if code := run(t.Context(), []string{"frobnicate"}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), `unknown command "frobnicate"`) {
		t.Errorf("unknown command: code %d, stderr %q", code, errb.String())
	}
	if code := run(t.Context(), nil, &out, &errb); code != exitUsage {
		t.Errorf("no command: code %d, want %d", code, exitUsage)
	}
}
