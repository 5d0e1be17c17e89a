package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A bad value in the config file names the file, the key and its line
// (issue 2: "an unknown key or a bad value is an error that names the key
// and line"); a bad flag still names the flag.
func TestLoadServeConfig_BadValueNamesLine(t *testing.T) {
	const arn = "arn:aws:iam::123456789012:role/x"
	tests := []struct {
		name string
		yaml string
		args []string
		want []string
		not  []string
	}{
		{"duration", "role_arn: " + arn + "\nduration: 5m\n", nil,
			[]string{"config file", "line 2: duration", "5m"}, nil},
		{"imdsv2", "# comment\nrole_arn: " + arn + "\n\nimdsv2: sometimes\n", nil,
			[]string{"line 4: imdsv2", "sometimes"}, nil},
		{"role_arn", "region: us-east-1\nrole_arn: nope\n", nil,
			[]string{"line 2: role_arn", "nope"}, nil},
		{"flag overrides file", "role_arn: " + arn + "\n", []string{"--duration", "5m"},
			[]string{"--duration"}, []string{"line", "config file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "imdsd.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			_, code := loadServeConfig(append([]string{"--config", path}, tt.args...), &stderr)
			if code != exitUsage {
				t.Fatalf("got exit code %d, want %d (stderr %q)", code, exitUsage, stderr.String())
			}
			msg := stderr.String()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("got %q, want it to contain %q", msg, w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(msg, n) {
					t.Errorf("got %q, want no %q", msg, n)
				}
			}
		})
	}
}
