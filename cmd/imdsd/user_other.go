//go:build !linux

package main

// Off Linux there is no service user: launchd and the Windows service
// manager run imdsd as root or LocalSystem, which changing loopback
// addresses needs.

func ensureServiceUser() error { return nil }

func removeServiceUser() error { return nil }

func shareConfig(string) error { return nil }
