package config

import (
	"errors"
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
			c.Role.Region, c.IMDSv2, c.Role.RoleARN, c.Role.Profile = "eu-west-1", "required", "arn:aws:iam::123456789012:role/app", "dev"
			c.Role.STSEndpoint, c.Role.SessionName, c.Role.Duration, c.Role.ExternalID = "http://127.0.0.1:5000", "laptop", 2*time.Hour, "secret-ext"
			c.Role.MinRemaining, c.InstanceID, c.LogLevel, c.LogFormat = 40*time.Minute, "i-0123456789abcdef0", "debug", "json"
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
			err := Decode([]byte(tt.yaml), &got)
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
		c := Default()
		c.Role.RoleARN = "arn:aws:iam::123456789012:role/app"
		return c
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // "" = valid
		is     error
	}{
		{"defaults", func(*Config) {}, "", nil},
		{"profile only", func(c *Config) { c.Role.RoleARN, c.Role.Profile = "", "dev" }, "", nil},
		{"no role", func(c *Config) { c.Role.RoleARN = "" }, "role_arn", ErrNoRoleOrSource},
		{"bad listen", func(c *Config) { c.Listen = []string{"localhost:80"} }, `listen "localhost:80"`, ErrBadListen},
		{"bad listen port", func(c *Config) { c.Listen = []string{"127.0.0.1:99999"} }, "listen", ErrBadListen},
		{"bad imdsv2", func(c *Config) { c.IMDSv2 = "v2" }, `imdsv2 "v2"`, ErrBadIMDSv2},
		{"bad region", func(c *Config) { c.Role.Region = "mars" }, `region "mars"`, ErrBadRegion},
		{"bad arn", func(c *Config) { c.Role.RoleARN = "arn:aws:iam::123:role/x" }, "role_arn", nil},
		{"bad endpoint", func(c *Config) { c.Role.STSEndpoint = "sts.amazonaws.com" }, "sts_endpoint", nil},
		{"bad session", func(c *Config) { c.Role.SessionName = "a b" }, "session_name", nil},
		{"bad external id hides value", func(c *Config) { c.Role.ExternalID = "x" }, "external_id: external ID must be", nil},
		{"short duration", func(c *Config) { c.Role.Duration = 10 * time.Minute }, "duration", nil},
		{"min remaining too big for duration", func(c *Config) { c.Role.Duration = 30 * time.Minute }, "min_remaining", ErrBadMinRemain},
		{"min remaining too small", func(c *Config) { c.Role.MinRemaining = 5 * time.Minute }, "min_remaining", ErrBadMinRemain},
		{"bad instance id", func(c *Config) { c.InstanceID = "host-1" }, "instance_id", ErrBadInstanceID},
		{"bad log level", func(c *Config) { c.LogLevel = "loud" }, "log_level", ErrBadLogLevel},
		{"bad log format", func(c *Config) { c.LogFormat = "xml" }, "log_format", ErrBadLogFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.mutate(&c)
			err := c.Validate(func(k string) string { return k })
			if tt.want == "" {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("err is %T, want *Error", err)
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

// TestDecode_ErrorsNeverQuoteASecret: an error quotes the key or value the
// user typed; where that text equals a secret of the file, the secret is
// shown redacted (issue 16: the fuzzer's "line 3: \"000800000\": unknown
// key" next to external_id: "000800000").
func TestDecode_ErrorsNeverQuoteASecret(t *testing.T) {
	for name, in := range map[string]string{
		"key after the secret":  "external_id: \"000800000\"\n000800000: x\n",
		"key before the secret": "000800000: x\nexternal_id: \"000800000\"\n",
		"named role's secret":   "roles:\n  a: {profile: p, external_id: s3cr3t-ext}\ns3cr3t-ext: 1\n",
		"value of another key":  "external_id: s3cr3t-ext\nimdsv2: s3cr3t-ext\nrole_arn: arn:aws:iam::123456789012:role/a\n",
	} {
		t.Run(name, func(t *testing.T) {
			c := Default()
			err := Decode([]byte(in), &c)
			if err == nil {
				err = c.Validate(func(k string) string { return k })
			}
			if err == nil {
				t.Fatal("got no error, want one")
			}
			for _, s := range []string{"000800000", "s3cr3t-ext"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("got %q, which shows the secret %q", err, s)
				}
			}
			if !strings.Contains(err.Error(), Redacted) {
				t.Errorf("got %q, want the quoted text shown as %s", err, Redacted)
			}
		})
	}
}
