package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/imdsd/imdsd/config"
	"github.com/imdsd/imdsd/control"
)

// Shells "imdsd env" writes for.
const (
	shellSh         = "sh"
	shellFish       = "fish"
	shellPowerShell = "powershell"
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
	fs.StringVar(&shell, "shell", shellSh, "`shell` syntax: sh (bash, zsh), fish or powershell")
	fs.BoolVar(&docker, "docker", false, "print `docker run` flags for Docker Desktop instead")
	fs.StringVar(&endpoint, "endpoint", "", "metadata endpoint `URL` (default: the running daemon's first loopback listen address, else http://127.0.0.1:9254/)")
	if code := parseCtlFlags(fs, args, "env [--shell sh|fish|powershell] [--docker] [--endpoint URL]", stderr); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "imdsd env: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if shell != shellSh && shell != shellFish && shell != shellPowerShell {
		fmt.Fprintf(stderr, "imdsd env: --shell %q: must be sh, fish or powershell\n", shell)
		return exitUsage
	}
	if endpoint == "" {
		endpoint = daemonEndpoint(ctx, f)
	}
	if docker {
		writeDockerFlags(stdout, endpoint)
		return exitOK
	}
	writeEnv(stdout, shell, endpoint)
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
		if u := loopbackEndpoint(st.Listen); u != "" {
			return u
		}
	}
	return "http://" + config.DefaultListen()[0] + "/"
}

// loopbackEndpoint is the endpoint URL of the first IPv4 loopback address
// in addrs, else of the first IPv6 one, else "".
func loopbackEndpoint(addrs []string) string {
	var v6 string
	for _, a := range addrs {
		ip := hostIP(a)
		switch {
		case ip == nil || !ip.IsLoopback():
		case ip.To4() != nil:
			return "http://" + a + "/"
		case v6 == "":
			v6 = "http://" + a + "/"
		}
	}
	return v6
}

func hostIP(addr string) net.IP {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	return net.ParseIP(h)
}

// envLines are what the SDKs need: the endpoint, IMDS not disabled, and
// no proxy between them and it.
func envLines(endpoint string) (set [][2]string, unset []string) {
	// The SDKs ignore the mode when the endpoint is set; it still says the
	// same thing, for the tools that read only the mode.
	mode := "IPv4"
	if strings.HasPrefix(endpoint, "http://[") {
		mode = "IPv6"
	}
	set = [][2]string{
		{"AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint},
		{"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", mode},
		// HTTP proxies must not get metadata requests: the SDKs honour
		// NO_PROXY (lower case for curl and Python, upper case for Go).
		{"NO_PROXY", "127.0.0.1,localhost,169.254.169.254,169.254.170.2"},
		{"no_proxy", "127.0.0.1,localhost,169.254.169.254,169.254.170.2"},
	}
	// Any of these would stop an SDK from asking IMDS, or make it prefer
	// other credentials.
	unset = []string{"AWS_EC2_METADATA_DISABLED", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"}
	return set, unset
}

func writeEnv(w io.Writer, shell, endpoint string) {
	set, unset := envLines(endpoint)
	for _, kv := range set {
		switch shell {
		case shellFish:
			fmt.Fprintf(w, "set -gx %s %s;\n", kv[0], fishQuote(kv[1]))
		case shellPowerShell:
			fmt.Fprintf(w, "$env:%s = %s\n", kv[0], psQuote(kv[1]))
		default:
			fmt.Fprintf(w, "export %s=%s\n", kv[0], shellQuote(kv[1]))
		}
	}
	for _, k := range unset {
		switch shell {
		case shellFish:
			fmt.Fprintf(w, "set -e %s;\n", k)
		case shellPowerShell:
			fmt.Fprintf(w, "Remove-Item Env:%s -ErrorAction SilentlyContinue\n", k)
		default:
			fmt.Fprintf(w, "unset %s\n", k)
		}
	}
}

// writeDockerFlags prints the flags for `docker run` under Docker Desktop:
// the host's loopback listener as host.docker.internal.
func writeDockerFlags(w io.Writer, endpoint string) {
	port := "9254"
	if h := strings.TrimSuffix(strings.TrimPrefix(endpoint, "http://"), "/"); h != "" {
		if _, p, err := net.SplitHostPort(h); err == nil {
			port = p
		}
	}
	fmt.Fprintf(w, "--add-host=host.docker.internal:host-gateway -e AWS_EC2_METADATA_SERVICE_ENDPOINT=http://host.docker.internal:%s/ -e AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv4\n", port)
}

// shellQuote quotes s for sh and fish: single quotes, with embedded single
// quotes closed, escaped and reopened.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// psQuote quotes s for PowerShell: single quotes, doubled inside.
func psQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// fishQuote quotes s for fish, whose single quotes take \' and \\ escapes.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}
