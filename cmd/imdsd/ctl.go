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
	if err := parseInterspersed(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	return -1
}

// parseInterspersed is fs.Parse with flags allowed after positional
// arguments: the flag package stops at the first non-flag, so parsing
// resumes after each one until the arguments run out or "--" ends the
// flags. fs.Args() is then the positional arguments, in order.
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if endedByDashDash(fs, args, rest) {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	// A parse of "--" alone leaves the flags as they are and sets
	// fs.Args() to what follows it.
	return fs.Parse(append([]string{"--"}, pos...))
}

// endedByDashDash reports whether fs.Parse(args), leaving rest, stopped at
// a "--" that ends the flags rather than at a positional argument: the
// argument consumed last is "--" and is not the value of the flag before
// it (`--role --` gives the role "--").
func endedByDashDash(fs *flag.FlagSet, args, rest []string) bool {
	n := len(args) - len(rest)
	if n == 0 || args[n-1] != "--" {
		return false
	}
	return n < 2 || !takesValue(fs, args[n-2])
}

// takesValue reports whether arg is a flag of fs written without "=" that
// takes the next argument as its value (any flag but a boolean one).
func takesValue(fs *flag.FlagSet, arg string) bool {
	if len(arg) < 2 || arg[0] != '-' || strings.Contains(arg, "=") {
		return false
	}
	name := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}
