package main

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/imdsd/imdsd/imds"
	"github.com/imdsd/imdsd/roles"
)

// IMDSv2 modes, as EC2's HttpTokens setting names them.
const (
	imdsv2Optional = "optional"
	imdsv2Required = "required"
)

// Default listen addresses: loopback on both families, port 9254.
var defaultListen = []string{"127.0.0.1:9254", "[::1]:9254"}

// Config is the daemon's configuration, from a file and flags.
type Config struct {
	Listen       []string
	Region       string
	IMDSv2       string
	RoleARN      string
	Profile      string
	STSEndpoint  string
	SessionName  string
	Duration     time.Duration
	ExternalID   string
	MinRemaining time.Duration
	InstanceID   string
	LogLevel     string
	LogFormat    string
	LinkLocal    bool           // serve on 169.254.169.254:80 and [fd00:ec2::254]:80 too (linklocal.go)
	Ops                         // control socket, metrics, state, MFA (ops_config.go)
	Security     SecurityConfig // Host allowlist, limits, hop limit, local users (security.go)

	// Multi-role and containers (config_multi.go).
	Roles             []RoleConfig
	Clients           []ClientRule
	Containers        ContainersConfig
	ContainerEndpoint ContainerEndpointConfig
}

// defaultConfig returns the configuration used where neither file nor flag
// says otherwise.
func defaultConfig() Config {
	return Config{
		IMDSv2:       imdsv2Optional,
		MinRemaining: roles.DefaultMinRemaining,
		LogLevel:     "info",
		LogFormat:    "auto",
		Security:     defaultSecurityConfig(),
		Containers:   defaultContainersConfig(),
	}
}

// ConfigError names the setting at fault and its bad value; it wraps the
// reason, so callers can match sentinels with errors.Is.
type ConfigError struct {
	Field string // the flag or key name
	Value string // the bad value, or "" when it must not be echoed
	Line  int    // the config file line, or 0
	Err   error
}

func (e *ConfigError) Error() string {
	var s string
	if e.Line > 0 {
		s = "line " + strconv.Itoa(e.Line) + ": "
	}
	s += e.Field
	if e.Value != "" {
		s += " " + strconv.Quote(e.Value)
	}
	return s + ": " + e.Err.Error()
}

func (e *ConfigError) Unwrap() error { return e.Err }

// Validation errors of the config itself (roles and imds own theirs).
var (
	errBadIMDSv2      = errors.New("must be optional or required")
	errBadListen      = errors.New("must be IP:PORT, e.g. 127.0.0.1:9254 or [::1]:9254")
	errBadRegion      = errors.New("not an AWS region name (e.g. us-east-1)")
	errBadLogLevel    = errors.New("must be debug, info, warn or error")
	errBadLogFormat   = errors.New("must be auto, text or json")
	errBadInstanceID  = errors.New("must look like i-0123456789abcdef0")
	errBadMinRemain   = errors.New("must be between 15m and the session duration minus 5m")
	errNoRoleOrSource = errors.New("give role_arn (--role-arn) or a profile (--profile) whose config names a role")
)

// validInstanceID reports whether s has the shape of an EC2 instance ID.
func validInstanceID(s string) bool {
	if len(s) < 3 || s[:2] != "i-" {
		return false
	}
	for _, r := range s[2:] {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return len(s) <= 19
}

// listenAddrs returns the configured listen addresses, or the defaults.
func (c Config) listenAddrs() []string {
	addrs := c.Listen
	if len(addrs) == 0 {
		addrs = defaultListen
	}
	if c.LinkLocal {
		addrs = append(addrs[:len(addrs):len(addrs)], linkLocalListen()...)
	}
	return addrs
}

// validate checks everything that can be checked without reading the
// shared AWS config or touching the network.
func (c Config) validate(field func(string) string) error {
	bad := func(name, value string, err error) error {
		return &ConfigError{Field: field(name), Value: value, Err: err}
	}
	for _, a := range c.Listen {
		if err := validateListen(a); err != nil {
			return bad("listen", a, err)
		}
	}
	if c.IMDSv2 != imdsv2Optional && c.IMDSv2 != imdsv2Required {
		return bad("imdsv2", c.IMDSv2, errBadIMDSv2)
	}
	if c.Region != "" && !imds.ValidRegion(c.Region) {
		return bad("region", c.Region, errBadRegion)
	}
	if c.RoleARN != "" {
		if err := roles.ValidateARN(c.RoleARN); err != nil {
			return bad("role_arn", c.RoleARN, roles.ErrInvalidARN)
		}
	}
	if c.RoleARN == "" && c.Profile == "" && len(c.Roles) == 0 {
		return bad("role_arn", "", errNoRoleOrSource)
	}
	if c.STSEndpoint != "" {
		if err := roles.ValidateEndpoint(c.STSEndpoint); err != nil {
			return bad("sts_endpoint", c.STSEndpoint, roles.ErrInvalidEndpoint)
		}
	}
	if c.SessionName != "" {
		if err := roles.ValidateSessionName(c.SessionName); err != nil {
			return bad("session_name", c.SessionName, roles.ErrInvalidSessionName)
		}
	}
	if c.ExternalID != "" {
		if err := roles.ValidateExternalID(c.ExternalID); err != nil {
			return bad("external_id", "", roles.ErrInvalidExternalID)
		}
	}
	if c.Duration != 0 {
		if err := roles.ValidateDuration(c.Duration); err != nil {
			return bad("duration", c.Duration.String(), roles.ErrInvalidDuration)
		}
	}
	dur := c.Duration
	if dur == 0 {
		dur = roles.DefaultDuration
	}
	if c.MinRemaining < roles.DefaultGraceRemaining || c.MinRemaining > dur-5*time.Minute {
		return bad("min_remaining", c.MinRemaining.String(), errBadMinRemain)
	}
	if c.InstanceID != "" && !validInstanceID(c.InstanceID) {
		return bad("instance_id", c.InstanceID, errBadInstanceID)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return bad("log_level", c.LogLevel, errBadLogLevel)
	}
	switch c.LogFormat {
	case "auto", "text", "json":
	default:
		return bad("log_format", c.LogFormat, errBadLogFormat)
	}
	if err := c.Ops.validate(bad); err != nil {
		return err
	}
	if err := c.validateMulti(field); err != nil {
		return err
	}
	return c.Security.validate(field)
}

// validateListen checks an IP:PORT listen address.
func validateListen(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return errBadListen
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return errBadListen
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return errBadListen
	}
	return nil
}
