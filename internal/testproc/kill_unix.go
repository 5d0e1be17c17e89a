//go:build unix

package testproc

import (
	"os/exec"
	"syscall"
)

// killGroup SIGKILLs the process group cmd leads, if it leads one.
func killGroup(cmd *exec.Cmd) bool {
	if a := cmd.SysProcAttr; a == nil || !a.Setpgid {
		return false
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	return true
}

// NewGroup makes cmd lead a process group of its own, so that Kill reaches
// the processes it forks (moto_server's workers), not only cmd itself.
func NewGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }
