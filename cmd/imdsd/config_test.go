package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeConfig(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    func(*Config)
		wantErr string
	}{
		{"empty", "", func(*Config) {}, ""},
		{"comment only", "# nothing\n", func(*Config) {}, ""},
		{"all keys", `
listen: ["127.0.0.1:9999", "[::1]:9999"]
region: eu-west-1
imdsv2: required
role_arn: arn:aws:iam::123456789012:role/app
profile: dev
sts_endpoint: http://127.0.0.1:5000
session_name: laptop
duration: 2h
external_id: secret-ext
min_remaining: 40m
instance_id: i-0123456789abcdef0
log_level: debug
log_format: json
`, func(c *Config) {
			c.Listen = []string{"127.0.0.1:9999", "[::1]:9999"}
			c.Region, c.IMDSv2, c.RoleARN, c.Profile = "eu-west-1", "required", "arn:aws:iam::123456789012:role/app", "dev"
			c.STSEndpoint, c.SessionName, c.Duration, c.ExternalID = "http://127.0.0.1:5000", "laptop", 2*time.Hour, "secret-ext"
			c.MinRemaining, c.InstanceID, c.LogLevel, c.LogFormat = 40*time.Minute, "i-0123456789abcdef0", "debug", "json"
		}, ""},
		{"listen as one string", "listen: 127.0.0.1:1\n", func(c *Config) { c.Listen = []string{"127.0.0.1:1"} }, ""},
		{"unknown key", "region: us-east-1\nrole: x\n", nil, `line 2: "role": unknown key`},
		{"duplicate key", "region: us-east-1\nregion: us-east-2\n", nil, "line 2: region: key given twice"},
		{"bad duration", "duration: forever\n", nil, `line 1: duration: "forever" must be a duration`},
		{"number as duration", "duration: 3600\n", nil, "line 1: duration: must be a duration"},
		{"list as string", "region: [a, b]\n", nil, "line 1: region: must be a string"},
		{"map as list", "listen: {a: b}\n", nil, "line 1: listen: must be a string or a list"},
		{"not a mapping", "- a\n- b\n", nil, "must be a mapping"},
		{"syntax error", "region: [\n", nil, "line"},
		{"two documents", "region: a\n---\nregion: b\n", nil, "more than one YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Config
			err := decodeConfig([]byte(tt.yaml), &got)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			var want Config
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("config mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateConfig(t *testing.T) {
	base := func() Config {
		c := defaultConfig()
		c.RoleARN = "arn:aws:iam::123456789012:role/app"
		return c
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // "" = valid
		is     error
	}{
		{"defaults", func(*Config) {}, "", nil},
		{"profile only", func(c *Config) { c.RoleARN, c.Profile = "", "dev" }, "", nil},
		{"no role", func(c *Config) { c.RoleARN = "" }, "role_arn", errNoRoleOrSource},
		{"bad listen", func(c *Config) { c.Listen = []string{"localhost:80"} }, `listen "localhost:80"`, errBadListen},
		{"bad listen port", func(c *Config) { c.Listen = []string{"127.0.0.1:99999"} }, "listen", errBadListen},
		{"bad imdsv2", func(c *Config) { c.IMDSv2 = "v2" }, `imdsv2 "v2"`, errBadIMDSv2},
		{"bad region", func(c *Config) { c.Region = "mars" }, `region "mars"`, errBadRegion},
		{"bad arn", func(c *Config) { c.RoleARN = "arn:aws:iam::123:role/x" }, "role_arn", nil},
		{"bad endpoint", func(c *Config) { c.STSEndpoint = "sts.amazonaws.com" }, "sts_endpoint", nil},
		{"bad session", func(c *Config) { c.SessionName = "a b" }, "session_name", nil},
		{"bad external id hides value", func(c *Config) { c.ExternalID = "x" }, "external_id: external ID must be", nil},
		{"short duration", func(c *Config) { c.Duration = 10 * time.Minute }, "duration", nil},
		{"min remaining too big for duration", func(c *Config) { c.Duration = 30 * time.Minute }, "min_remaining", errBadMinRemain},
		{"min remaining too small", func(c *Config) { c.MinRemaining = 5 * time.Minute }, "min_remaining", errBadMinRemain},
		{"bad instance id", func(c *Config) { c.InstanceID = "host-1" }, "instance_id", errBadInstanceID},
		{"bad log level", func(c *Config) { c.LogLevel = "loud" }, "log_level", errBadLogLevel},
		{"bad log format", func(c *Config) { c.LogFormat = "xml" }, "log_format", errBadLogFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.mutate(&c)
			err := c.validate(func(k string) string { return k })
			if tt.want == "" {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Errorf("err is %T, want *ConfigError", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.is)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

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
	if cfg.RoleARN != "arn:aws:iam::123456789012:role/from-file" || cfg.Region != "us-west-2" ||
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
