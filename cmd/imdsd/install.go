package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/imdsd/imdsd/config"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/imdsd/imdsd/control"
	"github.com/imdsd/imdsd/internal/logging"
	"github.com/imdsd/imdsd/linklocal"
	"github.com/imdsd/imdsd/packaging"
	"github.com/imdsd/imdsd/service"
)

// runInstall implements "imdsd install [--config FILE] [--role-arn ARN
// [--profile P] [--region R]]": it checks the config (writing the
// commented default to the system path when there is none, with the role,
// profile and region given filled in), creates the service account where
// the unit needs one, and registers the service running `imdsd serve
// --config FILE`. It does not start it.
func runInstall(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("imdsd install", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", systemConfigPath(), "config `file` the service reads")
	var set configSettings
	fs.StringVar(&set.roleARN, "role-arn", "", "write a new config for this role `ARN` (with --profile, --region), then install: one step")
	fs.StringVar(&set.profile, "profile", "", "with --role-arn: the source credentials' `profile`")
	fs.StringVar(&set.region, "region", "", "with --role-arn: the AWS `region`")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: imdsd install [--config FILE] [--role-arn ARN [--profile P] [--region R]]")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\n%s\n", controlHelp)
	}
	if code, done := parseFlags(fs, args, stderr); done {
		return code
	}
	path, err := filepath.Abs(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "imdsd install: %v\n", err)
		return exitUsage
	}
	if set.roleARN == "" && (set.profile != "" || set.region != "") {
		fmt.Fprintln(stderr, "imdsd install: --profile and --region go with --role-arn (or set them in the config)")
		return exitUsage
	}
	var wrote bool
	if set.roleARN != "" {
		err = writeNewConfig(path, set)
	} else {
		wrote, err = ensureConfig(path)
	}
	if err != nil {
		fmt.Fprintf(stderr, "imdsd install: %v\n", err)
		return exitUsage
	}
	switch {
	case set.roleARN != "":
		fmt.Fprintf(stdout, "imdsd: wrote %s for role %s (the comments say what else it can hold)\n", path, set.roleARN)
	case wrote:
		fmt.Fprintf(stdout, "imdsd: wrote the default config to %s\n", path)
	}
	cfg, msg := checkConfig(path)
	if msg != "" {
		fmt.Fprintf(stderr, "imdsd install: config %s does not validate: %s\n", path, msg)
		fmt.Fprintf(stderr, "imdsd install: edit it (set role_arn, see the comments), check it with 'imdsd config check %s', then run 'imdsd install' again\n", path)
		return exitUsage
	}
	svc, err := service.New(ctx, nil, serviceOptions(path, logging.New(stderr, "info", "text")))
	if err != nil {
		fmt.Fprintf(stderr, "imdsd install: %v\n", err)
		return exitError
	}
	if svc.Platform() == "linux-systemd" {
		if err := service.EnsureAccount(); err != nil {
			fmt.Fprintf(stderr, "imdsd install: %v\n", err)
			return exitError
		}
		if err := service.ShareConfig(path); err != nil {
			fmt.Fprintf(stderr, "imdsd install: %v\n", err)
			return exitError
		}
	}
	if err := svc.Install(); err != nil {
		if errors.Is(err, service.ErrAlreadyInstalled) {
			fmt.Fprintln(stderr, "imdsd install: imdsd is already installed as a service ('imdsd uninstall' first)")
			return exitError
		}
		fmt.Fprintf(stderr, "imdsd install: %v\n", err)
		return exitError
	}
	fmt.Fprintf(stdout, "imdsd: installed as a system service (%s), running 'imdsd serve --config %s'; start it with 'imdsd start'\n", service.PlatformName(svc.Platform()), path)
	if !cfg.LinkLocal {
		a := cfg.ListenAddrs()[0]
		fmt.Fprintf(stdout, "imdsd: link_local is off, so SDKs need the endpoint; for every user:\n"+
			"  export AWS_EC2_METADATA_SERVICE_ENDPOINT=http://%s/\n", a)
	}
	return exitOK
}

// runUninstall implements "imdsd uninstall [--purge]": it stops and
// unregisters the service, takes the link-local addresses off loopback,
// removes the service account and, with --purge, the config folder.
func runUninstall(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("imdsd uninstall", flag.ContinueOnError)
	fs.SetOutput(stderr)
	purge := fs.Bool("purge", false, "also remove the config folder "+filepath.Dir(systemConfigPath())+" and the state folder")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: imdsd uninstall [--purge]")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\n%s\n", controlHelp)
	}
	if code, done := parseFlags(fs, args, stderr); done {
		return code
	}
	svc, err := service.New(ctx, nil, serviceOptions(systemConfigPath(), logging.New(stderr, "info", "text")))
	if err != nil {
		fmt.Fprintf(stderr, "imdsd uninstall: %v\n", err)
		return exitError
	}
	if svc.Platform() == "linux-systemd" && packageOwned() {
		fmt.Fprintf(stderr, "imdsd uninstall: the service was installed by a package (%s); remove the package instead (dpkg -r imdsd, rpm -e imdsd)\n", packaging.UnitPath)
		return exitError
	}
	code := exitOK
	if err := svc.Uninstall(); err != nil {
		code = reportServiceErr("uninstall", err, stderr)
		if code != exitNotInstalled {
			return code
		}
	}
	// A daemon killed with -9 could not take its addresses off.
	if err := linklocal.Remove(linklocal.Prefixes()...); err != nil {
		fmt.Fprintf(stderr, "imdsd uninstall: %v\n", err)
		return exitError
	}
	if svc.Platform() == "linux-systemd" {
		if err := service.RemoveAccount(); err != nil {
			fmt.Fprintf(stderr, "imdsd uninstall: %v\n", err)
			return exitError
		}
	}
	// The daemon's runtime folder (control socket), if it left it empty.
	_ = os.Remove(filepath.Dir(control.DefaultPath()))
	if *purge {
		for _, dir := range []string{filepath.Dir(systemConfigPath()), filepath.Dir(defaultStateFile())} {
			if err := os.RemoveAll(dir); err != nil {
				fmt.Fprintf(stderr, "imdsd uninstall: %v\n", err)
				return exitError
			}
			fmt.Fprintf(stdout, "imdsd: removed %s\n", dir)
		}
	}
	if code == exitOK {
		fmt.Fprintln(stdout, "imdsd: uninstalled")
	}
	return code
}

// ensureConfig writes the commented default config to path when path is
// the system config and does not exist. A missing config elsewhere is an
// error: the user named a file that is not there.
func ensureConfig(path string) (wrote bool, err error) {
	_, err = os.Stat(path)
	switch {
	case err == nil:
		return false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return false, err
	case path != systemConfigPath():
		return false, fmt.Errorf("config %s: %w", path, fs.ErrNotExist)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, err
	}
	// 0640: the config may hold an external ID; the service's group reads
	// it (service.ShareConfig), nobody else.
	if err := os.WriteFile(path, packaging.DefaultConfig(), 0o640); err != nil {
		return false, err
	}
	return true, nil
}

// configSettings are the keys `imdsd install --role-arn` fills in.
type configSettings struct {
	roleARN, profile, region string
}

// writeNewConfig writes the commented default config with set filled in
// to path, which must not exist: install never overwrites a config.
func writeNewConfig(path string, set configSettings) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("config %s exists: edit it (or remove it) rather than give --role-arn, which writes a new one", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b := config.FillTemplate(packaging.DefaultConfig(), [][2]string{
		{"role_arn", set.roleARN}, {"profile", set.profile}, {"region", set.region},
	})
	// O_EXCL: a config that appeared since the check is not overwritten.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// packageOwned reports whether the systemd unit came from the .deb or .rpm.
func packageOwned() bool {
	_, err := os.Stat(packaging.UnitPath)
	return err == nil
}

// parseFlags parses args and reports whether the command is done, with
// the exit code to return.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, true
		}
		return exitUsage, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitUsage, true
	}
	return 0, false
}
