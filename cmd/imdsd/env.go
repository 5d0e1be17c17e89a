package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/imdsd/imdsd/config"
	"github.com/imdsd/imdsd/control"
	"github.com/imdsd/imdsd/internal/sdkenv"
)

// runEnv implements "imdsd env [--shell sh|fish|powershell] [--docker]": the
// lines that point SDKs at the daemon (eval them, or put them in a shell
// profile), or the `docker run` flags that do it for a container under
// Docker Desktop, where the daemon cannot be reached at 169.254.169.254.
func runEnv(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f ctlFlags
	var shell, endpoint string
	var docker bool
	fs := flag.NewFlagSet("imdsd env", flag.ContinueOnError)
	f.add(fs)
	fs.StringVar(&shell, "shell", sdkenv.ShellSh, "`shell` syntax: sh (bash, zsh), fish or powershell")
	fs.BoolVar(&docker, "docker", false, "print `docker run` flags for Docker Desktop instead")
	fs.StringVar(&endpoint, "endpoint", "", "metadata endpoint `URL` (default: the running daemon's first loopback listen address, else http://127.0.0.1:9254/)")
	if code := parseCtlFlags(fs, args, "env [--shell sh|fish|powershell] [--docker] [--endpoint URL]", stderr); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "imdsd env: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if shell != sdkenv.ShellSh && shell != sdkenv.ShellFish && shell != sdkenv.ShellPowerShell {
		fmt.Fprintf(stderr, "imdsd env: --shell %q: must be sh, fish or powershell\n", shell)
		return exitUsage
	}
	if endpoint == "" {
		endpoint = daemonEndpoint(ctx, f)
	}
	if docker {
		sdkenv.WriteDockerFlags(stdout, endpoint)
		return exitOK
	}
	sdkenv.Write(stdout, shell, endpoint)
	return exitOK
}

// daemonEndpoint returns the IMDS URL of the running daemon's first
// loopback listener (IPv4 first, then IPv6), or the default one.
//
// The URL ends in "/": it is the one value every SDK and CLI takes, to be
// set once machine-wide (/etc/environment). The AWS CLI v2 appends
// "latest/api/token" to it with no separator, so without the slash it
// cannot work at all; the AWS SDK for JavaScript v2 then asks for
// "//latest/...", which imdsd serves as "/latest/..." (docs/endpoint.md,
// scripts/e2e.sh's endpoint matrix). The IPv4 literal needs no name
// lookup, so no resolver can send "localhost" to an address the daemon
// does not listen on.
func daemonEndpoint(ctx context.Context, f ctlFlags) string {
	var st control.Status
	if c, err := f.client(ctx); err == nil && c.Call(ctx, control.CmdStatus, nil, &st) == nil {
		if u := sdkenv.LoopbackEndpoint(st.Listen); u != "" {
			return u
		}
	}
	return "http://" + config.DefaultListen()[0] + "/"
}
