package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t testing.TB, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "imdsd.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInstall_RefusesInvalidConfig(t *testing.T) {
	tests := map[string]struct {
		args []string
		want string
	}{
		"no role":      {[]string{"--config", writeFile(t, "link_local: true\n")}, "does not validate: role_arn"},
		"bad key":      {[]string{"--config", writeFile(t, "rol_arn: x\n")}, `"rol_arn": unknown key`},
		"bad value":    {[]string{"--config", writeFile(t, "role_arn: nope\n")}, `role_arn "nope"`},
		"missing file": {[]string{"--config", filepath.Join(t.TempDir(), "none.yaml")}, "does not exist"},
		"argument":     {[]string{"extra"}, "unexpected argument"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := run(context.Background(), append([]string{"install"}, tc.args...), &stdout, &stderr); got != exitUsage {
				t.Errorf("exit code: got %d, want %d; stderr: %s", got, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr: got %q, want it to contain %q", stderr.String(), tc.want)
			}
		})
	}
}
