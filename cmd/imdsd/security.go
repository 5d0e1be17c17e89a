package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/imdsd/imdsd/imds"
	"github.com/imdsd/imdsd/peercred"
)

// SecurityConfig holds the hardening keys of the config file (SECURITY.md
// explains what each one stops).
type SecurityConfig struct {
	// AllowedHosts are extra Host values to accept besides
	// imds.DefaultAllowedHosts and the listen addresses (allowed_hosts).
	AllowedHosts []string
	// HopLimit is the IP TTL / IPv6 hop limit of answers; 0 leaves the
	// system default (hop_limit).
	HopLimit int
	// RateLimit is each client address's request rate per second, RateBurst
	// its burst; 0 turns the limit off (rate_limit, rate_burst).
	RateLimit int
	RateBurst int
	// MaxConnsPerClient caps one client address's concurrent connections;
	// 0 is no cap (max_conns_per_client).
	MaxConnsPerClient int
	// Users are the local-user rules (uidrules.go).
	Users UserRulesConfig
}

// defaultSecurityConfig returns the limits used when the file says nothing.
func defaultSecurityConfig() SecurityConfig {
	return SecurityConfig{
		RateLimit:         imds.DefaultRatePerSecond,
		RateBurst:         imds.DefaultRateBurst,
		MaxConnsPerClient: imds.DefaultMaxConnsPerClient,
	}
}

// Security config errors.
var (
	errBadHopLimit    = errors.New("must be between 0 (system default) and 255")
	errBadLimit       = errors.New("must be 0 (off) or a positive number")
	errBadHost        = errors.New("must be a host name or an IP address")
	errHopUnsupported = errors.New("cannot be set on this OS")
)

// validate checks the hardening keys.
func (s SecurityConfig) validate(field func(string) string) error {
	bad := func(name, value string, err error) error {
		return &ConfigError{Field: field(name), Value: value, Err: err}
	}
	if s.HopLimit < 0 || s.HopLimit > 255 {
		return bad("hop_limit", strconv.Itoa(s.HopLimit), errBadHopLimit)
	}
	if s.HopLimit > 0 {
		if !imds.HopLimitSupported {
			return bad("hop_limit", strconv.Itoa(s.HopLimit), errHopUnsupported)
		}
	}
	for _, v := range []struct {
		key string
		n   int
	}{{"rate_limit", s.RateLimit}, {"rate_burst", s.RateBurst}, {"max_conns_per_client", s.MaxConnsPerClient}} {
		if v.n < 0 {
			return bad(v.key, strconv.Itoa(v.n), errBadLimit)
		}
	}
	for _, h := range s.AllowedHosts {
		if h == "" || len(h) > 253 || containsAny(h, "/@ :[]?#") && !isIP(h) {
			return bad("allowed_hosts", h, errBadHost)
		}
	}
	return s.Users.validate(field)
}

func isIP(s string) bool { _, err := netip.ParseAddr(s); return err == nil }

func containsAny(s, chars string) bool {
	for i := 0; i < len(s); i++ {
		for j := 0; j < len(chars); j++ {
			if s[i] == chars[j] {
				return true
			}
		}
	}
	return false
}

// allowedHosts returns the Host allowlist: the well-known IMDS names and
// addresses, every listen address, and the configured extras. (The address
// a connection arrives on is always allowed by imds itself, which covers
// wildcard listeners and bridge addresses.)
func (s SecurityConfig) allowedHosts(listen []string) []string {
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
// are configured, the peer-uid lookup and the rules around opts.Source.
// roleNames are the roles the daemon serves, for checking the rules, and
// named returns one of them by name, for a rule that names a role.
func harden(cfg Config, log *slog.Logger, roleNames []string, named func(string) (imds.Role, bool), opts imds.Options) (imds.Options, error) {
	s := cfg.Security
	opts.AllowedHosts = s.allowedHosts(cfg.listenAddrs())
	opts.RateLimit = imds.RateLimit{PerSecond: float64(s.RateLimit), Burst: s.RateBurst}
	opts.MaxConnsPerClient = s.MaxConnsPerClient
	opts.HopLimit = s.HopLimit
	opts.Audit = log.With("component", "audit")
	if !s.Users.enabled() {
		return opts, nil
	}
	rules, err := s.Users.compile(roleNames, systemUsers{})
	if err != nil {
		return opts, err
	}
	opts.IdentifyCaller = peerUID(log)
	opts.Source = rules.filter(opts.Source, named)
	return opts, nil
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

// namedRole returns the current credentials of the role called name.
func (o *ops) namedRole(name string) (imds.Role, bool) {
	e, ok := o.set.Load().byName[name]
	if !ok {
		return imds.Role{}, false
	}
	return roleCredentials(e), true
}

// intValue decodes a YAML integer config value.
func intValue(dst *int) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			return errNotInt
		}
		v, err := strconv.Atoi(n.Value)
		if err != nil {
			return fmt.Errorf("%q %w", n.Value, errNotInt)
		}
		*dst = v
		return nil
	}
}

var errNotInt = errors.New("must be an integer")
