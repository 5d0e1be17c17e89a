package main

// Helpers every test that runs imdsd as a subprocess shares (the
// end-to-end, ops and faults tests): the binary and a clean environment.
// Processes, output buffers and free ports come from internal/testproc.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildImdsd builds the imdsd binary of this package into a temporary
// folder of the test (the build cache makes every build after the first
// a link).
func buildImdsd(tb testing.TB) string {
	tb.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		tb.Fatalf("go not found on PATH: the test builds imdsd with it")
	}
	bin := filepath.Join(tb.TempDir(), "imdsd")
	if out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		tb.Fatalf("go build imdsd: %v\n%s", err, out)
	}
	return bin
}

// cleanEnv returns this process's environment without any AWS_* variable,
// without the variables drop names (nil drops none), and with no shared
// config or credentials file, plus extra. A process run with it finds no
// credentials but those in extra.
func cleanEnv(drop func(key string) bool, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || drop != nil && drop(k) {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull)
	return append(env, extra...)
}
