//go:build !linux

package main

// serviceUser is empty off Linux: launchd and the Windows service manager
// run imdsd as root or LocalSystem, which changing loopback addresses needs.
const serviceUser = ""

func ensureServiceUser() error { return nil }

func removeServiceUser() error { return nil }

func shareConfig(string) error { return nil }
