package main

import (
	"os"
	"path/filepath"
)

// systemConfigPath is the config file the system service reads:
// %ProgramData%\imdsd\imdsd.yaml.
func systemConfigPath() string {
	dir := os.Getenv("ProgramData")
	if dir == "" {
		dir = `C:\ProgramData`
	}
	return filepath.Join(dir, "imdsd", "imdsd.yaml")
}
