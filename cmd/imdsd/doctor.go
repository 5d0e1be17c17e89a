package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/imdsd/imdsd/config"
	"io"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/imdsd/imdsd/control"
)

// maxClockSkew is the largest clock difference with STS that doctor
// accepts: SigV4 signatures are refused beyond five minutes.
const maxClockSkew = 5 * time.Minute

// linkLocalIMDS is the address every SDK asks by default.
const linkLocalIMDS = "169.254.169.254"

// runDoctor implements "imdsd doctor": it checks, in order, everything
// between an SDK and its credentials and says what to do about each
// failure. Exit 0 only when every check passes.
func runDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	d := newDoctor(stdout)
	fs := flag.NewFlagSet("imdsd doctor", flag.ContinueOnError)
	d.ctl.add(fs)
	fs.StringVar(&d.configPath, "config", "", "config `file` to read the listen addresses from when the daemon does not answer (default: "+systemConfigPath()+" if present)")
	fs.StringVar(&d.stsEndpoint, "sts-endpoint", "", "STS endpoint `URL` for the clock check (default: the daemon's, else AWS's regional endpoint)")
	if code := parseCtlFlags(fs, args, "doctor [--socket PATH] [--config FILE] [--sts-endpoint URL]\n\nexit 0 when every check passes, 1 otherwise", stderr); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "imdsd doctor: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if d.run(ctx) {
		return exitOK
	}
	return exitError
}

// doctor holds what the checks share, and its seams.
type doctor struct {
	out         io.Writer
	ctl         ctlFlags
	configPath  string
	stsEndpoint string
	getenv      func(string) string
	now         func() time.Time
	localAddrs  func() ([]netip.Addr, error)
	// containerRules reports whether container DNAT rules are expected
	// (container bridges exist) and present.
	containerRules func() (expected bool, present bool, detail string, err error)
	http           *http.Client

	// Learnt along the way.
	status    *control.Status // nil when the control socket does not answer
	endpoints []string        // base URLs of the listeners that answered
	failed    int
}

func newDoctor(out io.Writer) *doctor {
	return &doctor{
		out:            out,
		getenv:         os.Getenv,
		now:            time.Now,
		localAddrs:     localAddrs,
		containerRules: containerRules,
		// Never through a proxy: the checks are about this machine.
		http: &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}},
	}
}

// result is a check's outcome.
type result struct {
	ok   bool
	skip bool
	msg  string
	fix  string // what to do, for a failure
}

func pass(format string, a ...any) result { return result{ok: true, msg: fmt.Sprintf(format, a...)} }
func skip(format string, a ...any) result {
	return result{ok: true, skip: true, msg: fmt.Sprintf(format, a...)}
}
func fail(fix, format string, a ...any) result {
	return result{msg: fmt.Sprintf(format, a...), fix: fix}
}

// run runs every check in order and reports whether all passed.
func (d *doctor) run(ctx context.Context) bool {
	checks := []struct {
		name string
		run  func(context.Context) result
	}{
		{"daemon reachable", d.checkDaemon},
		{"169.254.169.254 routed to imdsd", d.checkLinkLocal},
		{"IMDSv2 token round trip", d.checkToken},
		{"default role credentials", d.checkCredentials},
		{"clock against STS", d.checkClock},
		{"proxy variables", d.checkProxy},
		{"SDK environment", d.checkEnv},
		{"container rules", d.checkContainers},
	}
	for _, c := range checks {
		r := c.run(ctx)
		tag := "[ ok ]"
		switch {
		case r.skip:
			tag = "[skip]"
		case !r.ok:
			tag = "[FAIL]"
			d.failed++
		}
		fmt.Fprintf(d.out, "%s %s: %s\n", tag, c.name, r.msg)
		if !r.ok && r.fix != "" {
			fmt.Fprintf(d.out, "       fix: %s\n", strings.ReplaceAll(r.fix, "\n", "\n            "))
		}
	}
	if d.failed == 0 {
		fmt.Fprintln(d.out, "all checks passed")
		return true
	}
	fmt.Fprintf(d.out, "%d check(s) failed\n", d.failed)
	return false
}

// listenAddrs returns the addresses the daemon listens on: what it says,
// else what its config says.
func (d *doctor) listenAddrs() ([]string, string) {
	if d.status != nil && len(d.status.Listen) > 0 {
		return d.status.Listen, "the daemon"
	}
	path := d.configPath
	if path == "" {
		if _, err := os.Stat(systemConfigPath()); err == nil {
			path = systemConfigPath()
		}
	}
	if path != "" {
		cfg := config.Default()
		if err := config.LoadFile(path, &cfg); err == nil {
			return cfg.ListenAddrs(), path
		}
	}
	return config.DefaultListen(), "the defaults"
}
