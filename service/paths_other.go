//go:build !linux && !darwin

package service

// definitions: the Windows service manager (and the others kardianos
// supports) answer "not installed" themselves.
func definitions(string) []string { return nil }

// leftovers: nothing known is left behind.
func leftovers(string) []string { return nil }
