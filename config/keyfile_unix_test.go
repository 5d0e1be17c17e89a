//go:build unix

package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/imdsd/imdsd/internal/rastub"
	"github.com/imdsd/imdsd/roles"
)

// TestValidate_RolesAnywhereKeyMode: a private key the group or others
// can read is refused, naming the key and the chmod that fixes it.
func TestValidate_RolesAnywhereKeyMode(t *testing.T) {
	f, _ := anywhereFiles(t)
	for mode, want := range map[os.FileMode]error{0o600: nil, 0o640: errKeyReadable, 0o604: errKeyReadable, 0o400: nil} {
		readable := filepath.Join(filepath.Dir(f.PrivateKey), "mode.key")
		data, _ := os.ReadFile(f.PrivateKey)
		rastub.WriteFile(readable, data, mode)
		c := Default()
		c.Role = roles.Def{RoleARN: rastub.RoleARN, TrustAnchorARN: rastub.TrustAnchorARN, ProfileARN: rastub.ProfileARN,
			Certificate: f.Certificate, PrivateKey: readable, MinRemaining: c.Role.MinRemaining}
		err := c.Validate(func(k string) string { return k })
		var ce *Error
		switch {
		case want == nil && err != nil:
			t.Errorf("mode %04o: got %v, want nil", mode, err)
		case want != nil && (!errors.As(err, &ce) || ce.Field != "private_key" || !errors.Is(err, want)):
			t.Errorf("mode %04o: got %v, want private_key: %v", mode, err, want)
		}
	}
}
