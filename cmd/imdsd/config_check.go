package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/imdsd/imdsd/config"
	"github.com/imdsd/imdsd/daemon"
	"github.com/imdsd/imdsd/roles"
	"io"
	"strings"
)

// configCheckUsage is the usage of "imdsd config check", which
// "imdsd check-config" (the older spelling, kept for packages' maintainer
// scripts and users' scripts) shares with it.
func configCheckUsage() string {
	return "usage: imdsd config check [FILE | --config FILE]   (default FILE: " + systemConfigPath() + ")\n" +
		"  validate FILE as 'imdsd serve --config FILE' loads it, resolve the roles it\n" +
		"  names (reading the AWS shared files, calling nothing) and print the effective\n" +
		"  config, secrets redacted. Exit 0: valid; 2: not (the reason on stderr).\n" +
		"  'imdsd check-config' is an alias.\n"
}

// runConfig implements "imdsd config SUBCOMMAND"; check is the only one.
func runConfig(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprint(stderr, configCheckUsage())
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return exitOK
		}
		return exitUsage
	}
	return runConfigCheck(ctx, args[1:], stdout, stderr)
}

// runConfigCheck implements "imdsd config check [FILE | --config FILE]"
// and its alias "imdsd check-config": validate a config file as serve
// would load it (mode, keys, values, and the roles it names, without
// calling STS) and print the effective configuration, defaults included,
// with secrets redacted. Exit 0 when valid, 2 when not.
func runConfigCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "imdsd config check"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "config `file` to check (or give FILE as the argument)")
	fs.Usage = func() {
		fmt.Fprint(stderr, configCheckUsage())
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	path := systemConfigPath()
	flagSet := false
	fs.Visit(func(f *flag.Flag) { flagSet = flagSet || f.Name == "config" })
	switch {
	case fs.NArg() > 1:
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", name, fs.Arg(1))
		return exitUsage
	case fs.NArg() == 1 && flagSet:
		fmt.Fprintf(stderr, "%s: give the file once, as FILE or as --config FILE (got %q and %q)\n", name, *cfgPath, fs.Arg(0))
		return exitUsage
	case fs.NArg() == 1:
		path = fs.Arg(0)
	case flagSet:
		path = *cfgPath
	}
	if path == "" {
		fmt.Fprintf(stderr, "%s: the config file name is empty\n", name)
		return exitUsage
	}
	cfg, msg := checkConfig(path)
	if msg != "" {
		fmt.Fprintf(stderr, "%s: %s: %s\n", name, path, msg)
		return exitUsage
	}
	names, def, err := daemon.CheckRoles(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s: %v\n", name, path, err)
		return exitUsage
	}
	nodes, err := config.FileNodes(path)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s: %v\n", name, path, err)
		return exitUsage
	}
	origins, err := profileOrigins(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s: %v\n", name, path, err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "# %s: valid; roles: %s (default %s)\n", path, strings.Join(names, ", "), def)
	config.WriteEffective(stdout, cfg, nodes, origins)
	return exitOK
}

// profileOrigins returns the values the flat role's profile supplies to
// the keys the config leaves unset, for config check to print with their
// origin (issue 16 item 8: region printed empty although the profile sets
// it).
func profileOrigins(ctx context.Context, cfg config.Config) (config.Origins, error) {
	pv, err := roles.FromProfile(ctx, cfg.Role)
	if err != nil {
		return config.Origins{}, err
	}
	from := map[string]any{}
	if pv.Region != "" {
		from["region"] = pv.Region
	}
	if pv.Duration != 0 {
		from["duration"] = pv.Duration
	}
	if pv.SessionName != "" {
		from["session_name"] = pv.SessionName
	}
	return config.Origins{Profile: cfg.Role.Profile, FromProfile: from}, nil
}

// checkConfig loads path exactly as `imdsd serve --config path` would
// (file mode, strict decoding, validation) and returns the config, or the
// validation message. It resolves no role: install uses it as is, before
// the service's environment exists; config check resolves the roles after.
func checkConfig(path string) (config.Config, string) {
	var buf bytes.Buffer
	cfg, code := loadServeConfig([]string{"--config", path}, &buf)
	if code >= 0 {
		return config.Config{}, strings.TrimPrefix(strings.TrimSpace(buf.String()), "imdsd serve: ")
	}
	return cfg, ""
}
