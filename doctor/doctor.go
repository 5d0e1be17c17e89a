// Package doctor checks, in order, everything between an SDK and its
// credentials on this machine — the daemon, its sockets and link-local
// address, an IMDSv2 round trip, the default role's credentials, the
// clock against STS, proxies, the SDK environment, container rules — and
// says what to do about each failure.
package doctor

import (
	"context"
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

// certWarning is how close to its end a Roles Anywhere certificate fails
// the check (anywhere.ExpiryWarning, which status flags too).
const certWarning = 7 * 24 * time.Hour

// linkLocalIMDS is the address every SDK asks by default.
const linkLocalIMDS = "169.254.169.254"

// Options configure a run.
type Options struct {
	Out io.Writer
	// Client dials the daemon's control socket.
	Client func(ctx context.Context) (control.Client, error)
	// ConfigPath is the config to read the listen addresses from when the
	// daemon does not answer; SystemConfigPath when empty and present.
	ConfigPath       string
	SystemConfigPath string
	// STSEndpoint is the STS endpoint for the clock check: the daemon's
	// when empty, else AWS's regional endpoint.
	STSEndpoint string
}

// Run runs every check, writes each outcome to opts.Out, and reports
// whether all passed.
func Run(ctx context.Context, opts Options) bool {
	d := newDoctor(opts.Out)
	d.client, d.configPath, d.systemConfig, d.stsEndpoint = opts.Client, opts.ConfigPath, opts.SystemConfigPath, opts.STSEndpoint
	return d.run(ctx)
}

// doctor holds what the checks share, and its seams.
type doctor struct {
	out          io.Writer
	client       func(ctx context.Context) (control.Client, error)
	configPath   string
	systemConfig string
	stsEndpoint  string
	getenv       func(string) string
	now          func() time.Time
	localAddrs   func() ([]netip.Addr, error)
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
		{"Roles Anywhere certificates", d.checkCertificates},
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
		if _, err := os.Stat(d.systemConfig); err == nil {
			path = d.systemConfig
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
