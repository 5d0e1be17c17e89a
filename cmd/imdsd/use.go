package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/imdsd/imdsd/control"
)

// runUse implements "imdsd use ROLE": switch the default role of the
// running daemon; the choice survives restarts (state_file).
func runUse(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f ctlFlags
	fs := flag.NewFlagSet("imdsd use", flag.ContinueOnError)
	f.add(fs)
	if code := parseCtlFlags(fs, args, "use [--socket PATH] ROLE", stderr); code >= 0 {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "imdsd use: give one role name (see 'imdsd status' for the configured roles)")
		return exitUsage
	}
	var reply control.UseReply
	if code := f.call(ctx, "use", stderr, control.CmdUse, control.UseArgs{Role: fs.Arg(0)}, &reply); code >= 0 {
		return code
	}
	if reply.Previous == reply.Role {
		fmt.Fprintf(stdout, "default role: %s (unchanged)\n", reply.Role)
	} else {
		fmt.Fprintf(stdout, "default role: %s (was %s)\n", reply.Role, reply.Previous)
	}
	return exitOK
}
