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
