package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

// Version returns the build's version: the one set at link time, else the
// module version, else "devel".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// runVersion implements "imdsd version": the version, OS/architecture and
// Go release of this binary. -h prints the usage and exits 0, as every
// other command does.
func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("imdsd version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: imdsd version\n\nprints the version, OS/architecture and Go release of this binary")
	}
	if code, done := parseFlags(fs, args, stderr); done {
		return code
	}
	fmt.Fprintf(stdout, "imdsd %s %s/%s %s\n", Version(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	return exitOK
}
