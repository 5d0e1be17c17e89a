//go:build !unix

package testproc

import "os/exec"

// killGroup: no process groups here; the caller kills the process.
func killGroup(*exec.Cmd) bool { return false }

// NewGroup does nothing here: there are no process groups, and Kill ends
// the process it started.
func NewGroup(*exec.Cmd) {}
