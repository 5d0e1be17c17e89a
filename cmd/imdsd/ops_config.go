package main

import (
	"os"
	"path/filepath"
)

// defaultStateFile is where `imdsd use` persists its choice: /var/lib/imdsd
// for root (the service's StateDirectory), $STATE_DIRECTORY under systemd,
// else the user's state directory.
func defaultStateFile() string {
	if d := os.Getenv("STATE_DIRECTORY"); d != "" {
		return filepath.Join(filepath.SplitList(d)[0], "state.json")
	}
	if os.Geteuid() == 0 {
		return "/var/lib/imdsd/state.json"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "imdsd", "state.json")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "imdsd", "state.json")
	}
	return filepath.Join(os.TempDir(), "imdsd-state.json")
}
