package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteTokenFile(t *testing.T) {
	tok, err := newEndpointToken()
	if err != nil || len(tok) != 64 || strings.ContainsAny(tok, "\r\n") {
		t.Fatalf("token: got %d chars, %v; want 64 hex chars", len(tok), err)
	}
	if tok2, _ := newEndpointToken(); tok2 == tok {
		t.Error("two tokens are equal")
	}
	path := filepath.Join(t.TempDir(), "run", "container-token")
	for range 2 { // a second write replaces the first
		if err := writeTokenFile(path, tok, ""); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o640 {
		t.Errorf("mode %o, want 640 (owner and group only)", got)
	}
	if b, _ := os.ReadFile(path); string(b) != tok {
		t.Error("file does not hold the token")
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".container-token-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if err := writeTokenFile(path, tok, "no-such-group-imdsd"); err == nil || !strings.Contains(err.Error(), "token_group") {
		t.Errorf("unknown group: got %v, want an error naming token_group", err)
	}
}
