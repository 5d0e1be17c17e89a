// Command imdsd emulates the EC2 instance metadata service on this machine
// and serves the temporary credentials of an IAM role to every AWS SDK and
// CLI, exactly as an EC2 instance profile would.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // a runtime failure
	exitUsage = 2 // a bad flag, config or argument: nothing was started
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "run the metadata server in the foreground", runServe},
		{"version", "print the version", runVersion},
		{"install", "install the system service (imdsd install -h: exit codes)", runInstall},
		{"uninstall", "stop and remove the system service", runUninstall},
		{"start", "start the system service", controlCommand("start")},
		{"stop", "stop the system service", controlCommand("stop")},
		{"restart", "restart the system service", controlCommand("restart")},
		{"status", "roles, refreshes, clients (--json); no daemon: exit 3 stopped, 4 not installed", runStatusCommand},
		{"config", "config check [FILE]: validate a config as serve loads it, resolve its roles, print it (secrets redacted)", runConfig},
		{"check-config", "alias of 'config check' (same flags, output and exit codes; kept for scripts)", runConfigCheck},
		{"reload", "make the daemon read its config again (as SIGHUP)", runReload},
		{"use", "use ROLE: switch the default role (kept across restarts)", runUse},
		{"mfa", "mfa [CODE]: open an MFA session for roles that need one", runMFA},
		{"creds", "print a role's credentials (credential_process, env or json)", runCreds},
		{"env", "print the environment that points SDKs at the daemon (--docker: docker run flags)", runEnv},
		{"doctor", "check everything between SDKs and their credentials; say what to fix", runDoctor},
	}
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to a subcommand and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "imdsd: unknown command %q (run 'imdsd help' for the list)\n", args[0])
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: imdsd <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "run 'imdsd <command> -h' for a command's flags")
}
