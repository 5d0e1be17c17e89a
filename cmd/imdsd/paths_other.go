//go:build !linux && !darwin && !windows

package main

// systemConfigPath is the config file the system service reads.
func systemConfigPath() string { return "/usr/local/etc/imdsd/imdsd.yaml" }
