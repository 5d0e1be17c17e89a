package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/imdsd/imdsd/internal/logging"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/imdsd/imdsd/packaging"
	"github.com/imdsd/imdsd/service"
)

// serviceName names the unit, init script, launchd job and Windows service.
const serviceName = "imdsd"

// Exit codes of the service commands beyond exitOK, exitError and
// exitUsage; status uses the LSB init script codes (service.Status).
const (
	exitStopped      = 3 // status: installed, not running
	exitNotInstalled = 4 // status, start, stop, restart, uninstall: no service
)

// serviceOptions describes imdsd as a system service that runs
// `imdsd serve --config cfgPath`.
func serviceOptions(cfgPath string, log *slog.Logger) service.Options {
	return service.Options{
		Name:        serviceName,
		DisplayName: "imdsd",
		Description: "EC2 instance metadata service emulator: IAM role credentials for every SDK",
		Arguments:   []string{"serve", "--config", cfgPath},
		// Where the unit does not say it (SysV, launchd), the service reads
		// its source credentials from files beside the config, as the
		// systemd unit does from /etc/imdsd.
		EnvVars: map[string]string{
			"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(filepath.Dir(cfgPath), "credentials"),
			"AWS_CONFIG_FILE":             filepath.Join(filepath.Dir(cfgPath), "aws-config"),
		},
		SystemdUnit: packaging.SystemdTemplate(),
		Logger:      log,
	}
}

// runManaged runs the daemon: in the foreground from a terminal or a
// script, else under the service manager through the service adapter
// (needed by the Windows service manager; equivalent elsewhere).
func runManaged(ctx context.Context, run func(context.Context) error, log *slog.Logger) error {
	if service.Interactive() {
		return run(ctx)
	}
	svc, err := service.New(ctx, run, service.Options{Name: serviceName, Logger: log})
	if err != nil {
		log.Warn("no service manager; running in the foreground", "err", err)
		return run(ctx)
	}
	return svc.Run()
}

// controlCommand builds start, stop and restart.
func controlCommand(verb string) func(context.Context, []string, io.Writer, io.Writer) int {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		svc, code := parseControl(ctx, verb, args, stderr)
		if svc == nil {
			return code
		}
		do := map[string]func() error{"start": svc.Start, "stop": svc.Stop, "restart": svc.Restart}[verb]
		if err := do(); err != nil {
			return reportServiceErr(verb, err, stderr)
		}
		fmt.Fprintf(stdout, "imdsd: %s: done\n", verb)
		return exitOK
	}
}

// runStatus implements "imdsd status": it prints the state and exits 0
// running, 3 stopped, 4 not installed, 1 unknown.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	svc, code := parseControl(ctx, "status", args, stderr)
	if svc == nil {
		return code
	}
	st, err := svc.Status()
	if err != nil {
		fmt.Fprintf(stderr, "imdsd status: %v\n", err)
	}
	fmt.Fprintf(stdout, "imdsd: %s\n", service.StateText(st, svc.Platform()))
	return st.ExitCode()
}

// parseControl parses a control verb's (empty) flag set and builds the
// service handle. It returns a nil service and the exit code on failure.
func parseControl(ctx context.Context, verb string, args []string, stderr io.Writer) (*service.Service, int) {
	fs := flag.NewFlagSet("imdsd "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: imdsd %s\n\n%s\n", verb, controlHelp)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, exitOK
		}
		return nil, exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "imdsd %s: unexpected argument %q\n", verb, fs.Arg(0))
		return nil, exitUsage
	}
	svc, err := service.New(ctx, nil, serviceOptions(systemConfigPath(), logging.New(stderr, "info", "text")))
	if err != nil {
		fmt.Fprintf(stderr, "imdsd %s: %v\n", verb, err)
		return nil, exitError
	}
	return svc, -1
}

// reportServiceErr prints err and maps it to an exit code.
func reportServiceErr(verb string, err error, stderr io.Writer) int {
	if errors.Is(err, service.ErrNotInstalled) {
		fmt.Fprintf(stderr, "imdsd %s: imdsd is not installed as a service (run 'imdsd install')\n", verb)
		return exitNotInstalled
	}
	fmt.Fprintf(stderr, "imdsd %s: %v\n", verb, err)
	return exitError
}

const controlHelp = `Exit codes of the service commands:
  0  done; for status: running
  1  failed; for status: unknown (the service manager could not be asked)
  2  bad flag, argument or config (install refuses a config that does not validate)
  3  status: installed but stopped (or failed)
  4  not installed (status, start, stop, restart, uninstall)`
