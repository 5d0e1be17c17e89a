package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// e2eBadFlags runs the real binary with bad input: each must exit 2 with
// one line on stderr that names what is wrong, before anything listens
// (the "started" log line, written once the listeners are open, is absent).
func e2eBadFlags(t *testing.T, bin string, outputs e2eOutputs) {
	const arn = "arn:aws:iam::123456789012:role/x"
	dir := t.TempDir()
	writeFile := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	unknownKey := writeFile("unknown-key.yaml", "role_arn: "+arn+"\nregion: us-east-1\nrole_arm: typo\n")
	badValue := writeFile("bad-value.yaml", "role_arn: "+arn+"\nduration: 5m\n")
	tests := []struct {
		name string
		args []string
		want []string // substrings of the one error line
	}{
		{"bad ARN", []string{"--role-arn", "arn:aws:iam::123:role/x"}, []string{"--role-arn", "arn:aws:iam::123:role/x"}},
		{"not an ARN", []string{"--role-arn", "e2e-role"}, []string{"--role-arn", `"e2e-role"`}},
		{"duration too short", []string{"--role-arn", arn, "--duration", "5m"}, []string{"--duration", "5m"}},
		{"duration not a duration", []string{"--role-arn", arn, "--duration", "banana"}, []string{"duration", "banana"}},
		{"endpoint not http", []string{"--role-arn", arn, "--sts-endpoint", "ftp://sts.example"}, []string{"--sts-endpoint", "ftp://sts.example"}},
		{"endpoint not a URL", []string{"--role-arn", arn, "--sts-endpoint", "not a url"}, []string{"--sts-endpoint"}},
		{"bad imdsv2", []string{"--role-arn", arn, "--imdsv2", "sometimes"}, []string{"--imdsv2", "sometimes"}},
		{"unknown flag", []string{"--role-arn", arn, "--bogus"}, []string{"bogus"}},
		{"bad listen", []string{"--role-arn", arn, "--listen", "localhost:9254"}, []string{"--listen", "localhost:9254"}},
		{"no role", nil, []string{"role"}},
		{"config unknown key", []string{"--config", unknownKey}, []string{`"role_arm"`, "line 3", "unknown key"}},
		{"config bad value", []string{"--config", badValue}, []string{"bad-value.yaml", "line 2", "duration", "5m"}},
		{"config missing", []string{"--config", filepath.Join(dir, "absent.yaml")}, []string{"absent.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append([]string{"serve", "--log-format", "json"}, tt.args...)...)
			cmd.Env = cleanEnv(nil, "AWS_ACCESS_KEY_ID=AKIAE2EBADFLAGS00001", "AWS_SECRET_ACCESS_KEY=bad-flags-source-secret")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			outputs.add("bad flags "+tt.name, stdout.String()+stderr.String())
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != exitUsage {
				t.Fatalf("got %v, want exit code %d\nstderr: %s", err, exitUsage, stderr.String())
			}
			msg := stderr.String()
			if strings.Count(msg, "\n") != 1 || !strings.HasSuffix(msg, "\n") {
				t.Errorf("got stderr %q, want exactly one line", msg)
			}
			if strings.Contains(msg, `"started"`) || stdout.Len() > 0 {
				t.Errorf("it started or printed on stdout: stdout %q, stderr %q", stdout.String(), msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("got %q, want it to contain %q", strings.TrimSpace(msg), w)
				}
			}
		})
	}
}
