//go:build unix

package motoserver

import (
	"os/exec"
	"syscall"
)

// newProcessGroup makes cmd lead a process group of its own, so that Stop
// (testproc's Kill) reaches the workers moto_server forks, not only the
// process it started.
func newProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
