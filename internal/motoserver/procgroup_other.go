//go:build !unix

package motoserver

import "os/exec"

// newProcessGroup does nothing here: there are no process groups, and
// testproc's Kill ends the process it started (moto_server is not run on
// these systems; the package only has to compile, for GOOS=windows go
// vet ./...).
func newProcessGroup(*exec.Cmd) {}
