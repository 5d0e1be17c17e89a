package main

// Helpers shared by the commands that talk to a running daemon through the
// control API (status, use, reload, mfa, creds).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/imdsd/imdsd/control"
	"github.com/imdsd/imdsd/internal/cli"
)

// ctlFlags are the flags every control client has.
type ctlFlags struct {
	socket string
}

func (f *ctlFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&f.socket, "socket", "", "control socket `path` of the daemon (default: this user's runtime directory, then /run/imdsd)")
	// The name serve takes for the same path, so one flag works everywhere.
	fs.StringVar(&f.socket, "control-socket", "", "same as --socket")
}

// client finds the daemon.
func (f *ctlFlags) client(ctx context.Context) (control.Client, error) {
	if f.socket != "" {
		return control.Client{Path: f.socket}, nil
	}
	return control.Find(ctx, control.ClientPaths()...)
}

// call runs one control command and reports a failure on stderr; it
// returns the exit code for a failure, or -1.
func (f *ctlFlags) call(ctx context.Context, name string, stderr io.Writer, cmd string, args, out any) int {
	c, err := f.client(ctx)
	if err == nil {
		err = c.Call(ctx, cmd, args, out)
	}
	if err != nil {
		reportCtlErr(stderr, name, err)
		return exitError
	}
	return -1
}

// reportCtlErr prints a failed control call with what to do about it. A
// socket this user may not open, or one another user serves, is not "not
// running": the first says which group to join, the second that nothing
// was sent.
func reportCtlErr(stderr io.Writer, name string, err error) {
	switch {
	case errors.Is(err, control.ErrNoAccess):
		fmt.Fprintf(stderr, "imdsd %s: %v\n", name, err)
	case errors.Is(err, control.ErrUntrustedPeer):
		fmt.Fprintf(stderr, "imdsd %s: %v\n  nothing was sent to it\n", name, err)
	case errors.Is(err, control.ErrNotRunning):
		fmt.Fprintf(stderr, "imdsd %s: %v\n  start it with 'imdsd serve' or 'imdsd start', or give its socket with --socket\n", name, err)
	default:
		fmt.Fprintf(stderr, "imdsd %s: %s\n", name, withoutPrefix(err, name))
	}
}

// withoutPrefix is err's message without a leading "NAME: ": the daemon
// wraps what it refuses with the command's name ("reload: config file
// ..."), which "imdsd NAME: " already says (issue 16 item 10: "imdsd
// reload: reload: config file ...").
func withoutPrefix(err error, name string) string {
	msg := err.Error()
	var re *control.RemoteError
	if errors.As(err, &re) {
		msg = strings.TrimPrefix(msg, name+": ")
	}
	return msg
}

// parseCtlFlags parses a command's flags; it returns the exit code when the
// command must stop (help or a bad flag), else -1. Flags may come before,
// between or after the positional arguments, as users type them
// (`imdsd use web --socket P`); "--" ends the flags, so a later argument
// that starts with "-" is positional. The positional arguments are
// fs.Args() afterwards.
func parseCtlFlags(fs *flag.FlagSet, args []string, usage string, stderr io.Writer) int {
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: imdsd %s\n", usage)
		fs.PrintDefaults()
	}
	if err := cli.ParseInterspersed(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	return -1
}
