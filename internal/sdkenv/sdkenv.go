// Package sdkenv is the environment that points the AWS SDKs and CLIs at
// imdsd: what `imdsd env` prints for each shell, and for docker run.
package sdkenv

import (
	"fmt"
	"io"
	"net"
	"strings"
)

// Shells Write writes for.
const (
	ShellSh         = "sh"
	ShellFish       = "fish"
	ShellPowerShell = "powershell"
)

// LoopbackEndpoint is the endpoint URL of the first IPv4 loopback address
// in addrs, else of the first IPv6 one, else "".
func LoopbackEndpoint(addrs []string) string {
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

// Lines are what the SDKs need: the endpoint, IMDS not disabled, and
// no proxy between them and it.
func Lines(endpoint string) (set [][2]string, unset []string) {
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

// Write prints the lines for shell (ShellSh when empty): set, then
// unset.
func Write(w io.Writer, shell, endpoint string) {
	set, unset := Lines(endpoint)
	for _, kv := range set {
		switch shell {
		case ShellFish:
			fmt.Fprintf(w, "set -gx %s %s;\n", kv[0], fishQuote(kv[1]))
		case ShellPowerShell:
			fmt.Fprintf(w, "$env:%s = %s\n", kv[0], psQuote(kv[1]))
		default:
			fmt.Fprintf(w, "export %s=%s\n", kv[0], ShellQuote(kv[1]))
		}
	}
	for _, k := range unset {
		switch shell {
		case ShellFish:
			fmt.Fprintf(w, "set -e %s;\n", k)
		case ShellPowerShell:
			fmt.Fprintf(w, "Remove-Item Env:%s -ErrorAction SilentlyContinue\n", k)
		default:
			fmt.Fprintf(w, "unset %s\n", k)
		}
	}
}

// WriteDockerFlags prints the flags for `docker run` under Docker Desktop:
// the host's loopback listener as host.docker.internal.
func WriteDockerFlags(w io.Writer, endpoint string) {
	port := "9254"
	if h := strings.TrimSuffix(strings.TrimPrefix(endpoint, "http://"), "/"); h != "" {
		if _, p, err := net.SplitHostPort(h); err == nil {
			port = p
		}
	}
	fmt.Fprintf(w, "--add-host=host.docker.internal:host-gateway -e AWS_EC2_METADATA_SERVICE_ENDPOINT=http://host.docker.internal:%s/ -e AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv4\n", port)
}

// ShellQuote quotes s for sh and fish: single quotes, with embedded single
// quotes closed, escaped and reopened.
func ShellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// psQuote quotes s for PowerShell: single quotes, doubled inside.
func psQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// fishQuote quotes s for fish, whose single quotes take \' and \\ escapes.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}
