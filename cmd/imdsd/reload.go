package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/imdsd/imdsd/control"
)

// runReload implements "imdsd reload": the daemon reads its config again
// (as on SIGHUP) and swaps its roles without dropping a connection. A config
// that does not validate is refused; the daemon keeps the old one and the
// error is printed here.
func runReload(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f ctlFlags
	fs := flag.NewFlagSet("imdsd reload", flag.ContinueOnError)
	f.add(fs)
	if code := parseCtlFlags(fs, args, "reload [--socket PATH]", stderr); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "imdsd reload: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	var r control.ReloadReply
	if code := f.call(ctx, "reload", stderr, control.CmdReload, nil, &r); code >= 0 {
		return code
	}
	list := func(names []string) string {
		if len(names) == 0 {
			return "-"
		}
		return strings.Join(names, ", ")
	}
	fmt.Fprintf(stdout, "reloaded: added %s; removed %s; changed %s; unchanged %s\n",
		list(r.Added), list(r.Removed), list(r.Changed), list(r.Unchanged))
	return exitOK
}
