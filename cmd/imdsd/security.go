package main

import (
	"github.com/imdsd/imdsd/config"
	"log/slog"
	"net"

	"github.com/imdsd/imdsd/imds"
	"github.com/imdsd/imdsd/peercred"
)

// allowedHosts returns the Host allowlist: the well-known IMDS names and
// addresses, every listen address, and the configured extras. (The address
// a connection arrives on is always allowed by imds itself, which covers
// wildcard listeners and bridge addresses.)
func allowedHosts(s config.Security, listen []string) []string {
	hosts := append([]string(nil), imds.DefaultAllowedHosts...)
	for _, a := range listen {
		if h, _, err := net.SplitHostPort(a); err == nil {
			hosts = append(hosts, h)
		}
	}
	return append(hosts, s.AllowedHosts...)
}

// harden applies the hardening config to the server options: Host
// allowlist, limits, hop limit, the audit log, and, when local-user rules
// are configured, the peer-uid lookup (so the audit line names the uid;
// the policy finds it itself where a rule needs it).
func harden(cfg config.Config, log *slog.Logger, opts imds.Options) imds.Options {
	s := cfg.Security
	opts.AllowedHosts = allowedHosts(s, cfg.ListenAddrs())
	opts.RateLimit = imds.RateLimit{PerSecond: float64(s.RateLimit), Burst: s.RateBurst}
	opts.MaxConnsPerClient = s.MaxConnsPerClient
	opts.MaxConns = s.MaxConns
	opts.HopLimit = s.HopLimit
	opts.ConnIdentity = peercred.Identity // limits and audit per local user
	opts.Audit = log.With("component", "audit")
	if s.Users.Enabled() {
		opts.IdentifyCaller = peerUID(log)
	}
	return opts
}

// peerUID returns the imds.Options.IdentifyCaller hook: the uid owning the
// client socket, found by the kernel (peercred). A caller whose socket is
// not on this host (a container in its own network namespace) or whose
// lookup fails keeps HasUID false, and the rules refuse it.
func peerUID(log *slog.Logger) func(imds.Caller) imds.Caller {
	return func(c imds.Caller) imds.Caller {
		uid, err := peercred.UID(c.Remote, c.Local)
		if err != nil {
			log.Debug("peer uid unknown", "client", c.Remote.String(), "err", err)
			return c
		}
		c.UID, c.HasUID = uid, true
		return c
	}
}
