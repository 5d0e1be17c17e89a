//go:build !unix

package testproc

import "os/exec"

// killGroup: no process groups here; the caller kills the process.
func killGroup(*exec.Cmd) bool { return false }
