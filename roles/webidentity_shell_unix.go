//go:build !windows

package roles

import (
	"context"
	"os/exec"
)

// shellCommand runs command with /bin/sh, as AWS's credential_process is.
func shellCommand(ctx context.Context, command string) *exec.Cmd {
	return exec.CommandContext(ctx, "/bin/sh", "-c", command)
}
