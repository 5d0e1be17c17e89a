//go:build linux || darwin

package main

import (
	"context"
	"os/exec"
	"runtime"
	"strconv"
	"time"
)

// desktopNotify shows a desktop notification when the daemon runs in a
// user's desktop session (notify-send on Linux, osascript on macOS). It is
// best effort: a daemon without a desktop (the system service) has no
// notifier, and the log line is what counts.
func desktopNotify(title, body string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var cmd *exec.Cmd
	if runtime.GOOS == "darwin" {
		cmd = exec.CommandContext(ctx, "osascript", "-e",
			"display notification "+strconv.Quote(body)+" with title "+strconv.Quote(title))
	} else {
		if _, err := exec.LookPath("notify-send"); err != nil {
			return err
		}
		cmd = exec.CommandContext(ctx, "notify-send", "--app-name=imdsd", title, body)
	}
	return cmd.Run()
}
