//go:build !linux && !darwin

package main

import "errors"

// desktopNotify is not available here; the log line is what counts.
func desktopNotify(string, string) error { return errors.New("no desktop notifier on this OS") }
