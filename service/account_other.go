//go:build !linux

package service

// Off Linux there is no service user: launchd and the Windows service
// manager run imdsd as root or LocalSystem, which changing loopback
// addresses needs.

// EnsureAccount does nothing here.
func EnsureAccount() error { return nil }

// RemoveAccount does nothing here.
func RemoveAccount() error { return nil }

// ShareConfig does nothing here.
func ShareConfig(string) error { return nil }
