//go:build unix

package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadConfigFile_RefusesWritableByOthers: a config file the group or
// others can write is refused; 0600 and 0640 are accepted.
func TestLoadConfigFile_RefusesWritableByOthers(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		mode os.FileMode
		ok   bool
	}{{0o600, true}, {0o640, true}, {0o644, true}, {0o660, false}, {0o602, false}, {0o666, false}, {0o622, false}} {
		p := filepath.Join(dir, "imdsd.yaml")
		if err := os.WriteFile(p, []byte("region: eu-west-1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, tc.mode); err != nil {
			t.Fatal(err)
		}
		c := Default()
		err := LoadFile(p, &c)
		if tc.ok && err != nil {
			t.Errorf("mode %04o: %v, want accepted", tc.mode, err)
		}
		if !tc.ok && !errors.Is(err, errConfigWritable) {
			t.Errorf("mode %04o: %v, want errConfigWritable", tc.mode, err)
		}
		if !tc.ok && err != nil && !strings.Contains(err.Error(), "chmod go-w") {
			t.Errorf("mode %04o: message %q does not say how to fix it", tc.mode, err)
		}
	}
}
