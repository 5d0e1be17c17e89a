package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// state is what the daemon keeps across restarts.
type state struct {
	// DefaultRole is the role chosen with `imdsd use`.
	DefaultRole string `json:"default_role,omitempty"`
}

// readState returns the role saved in the state file, "" when there is
// none (no file is not an error).
func readState(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return "", fmt.Errorf("state file %s: %w", path, err)
	}
	return s.DefaultRole, nil
}

// writeState saves the chosen role atomically (write and rename), so a
// crash never leaves a half-written file.
func writeState(path, role string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	b, _ := json.Marshal(state{DefaultRole: role})
	tmp, err := os.CreateTemp(filepath.Dir(path), ".state-*")
	if err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("state file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	return nil
}
