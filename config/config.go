package config

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/imdsd/imdsd/roles"
)

// IMDSv2 modes, as EC2's HttpTokens setting names them.
const (
	IMDSv2Optional = "optional"
	IMDSv2Required = "required"
)

// DefaultListen are the listen addresses when none is given: loopback on
// both families, port 9254.
func DefaultListen() []string { return []string{"127.0.0.1:9254", "[::1]:9254"} }

// LinkLocalListen are the addresses link_local adds: EC2's own, port 80.
func LinkLocalListen() []string { return []string{"169.254.169.254:80", "[fd00:ec2::254]:80"} }

// ControlOff disables the control socket.
const ControlOff = "off"

// Config is the daemon's configuration, from a file and flags.
type Config struct {
	Listen []string
	IMDSv2 string
	// Role is the flat keys' role (role_arn, profile, region, ...): the
	// host's role, and what each of Roles inherits where it says nothing.
	// Its Region is also the instance identity's.
	Role       roles.Def
	InstanceID string
	LogLevel   string
	LogFormat  string
	// LinkLocal serves on 169.254.169.254:80 and [fd00:ec2::254]:80 too.
	LinkLocal bool
	// ControlSocket is the control API's socket path (pipe name on
	// Windows); the platform default when empty, none when "off".
	ControlSocket string
	// MetricsListen is IP:PORT for Prometheus metrics; off when empty.
	MetricsListen string
	// StateFile keeps what `imdsd use` chose across restarts.
	StateFile string
	Security  Security
	// STS bounds the calls to STS of all roles together.
	STS STS

	// Roles are the named roles of roles:, in file order.
	Roles             []NamedRole
	Clients           []ClientRule
	Containers        Containers
	ContainerEndpoint ContainerEndpoint
	Kubernetes        Kubernetes
}

// Default returns the configuration used where neither file nor flag says
// otherwise.
func Default() Config {
	return Config{
		IMDSv2:     IMDSv2Optional,
		Role:       roles.Def{MinRemaining: roles.DefaultMinRemaining},
		LogLevel:   "info",
		LogFormat:  "auto",
		Security:   defaultSecurity(),
		Containers: defaultContainers(),
		Kubernetes: defaultKubernetes(),
	}
}

// ListenAddrs returns the configured listen addresses, or the defaults,
// with the link-local ones when link_local is on.
func (c Config) ListenAddrs() []string {
	addrs := c.Listen
	if len(addrs) == 0 {
		addrs = DefaultListen()
	}
	if c.LinkLocal {
		addrs = append(addrs[:len(addrs):len(addrs)], LinkLocalListen()...)
	}
	return addrs
}

// Error names the setting at fault and its bad value; it wraps the
// reason, so callers can match sentinels with errors.Is.
type Error struct {
	Field string // the flag or key name
	Value string // the bad value, or "" when it must not be echoed
	Line  int    // the config file line, or 0
	Err   error
}

func (e *Error) Error() string {
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

func (e *Error) Unwrap() error { return e.Err }

// Validation errors of the config itself (roles and imds own theirs).
var (
	ErrBadIMDSv2      = errors.New("must be optional or required")
	ErrBadListen      = errors.New("must be IP:PORT, e.g. 127.0.0.1:9254 or [::1]:9254")
	ErrBadRegion      = errors.New("not an AWS region name (e.g. us-east-1)")
	ErrBadLogLevel    = errors.New("must be debug, info, warn or error")
	ErrBadLogFormat   = errors.New("must be auto, text or json")
	ErrBadInstanceID  = errors.New("must look like i-0123456789abcdef0")
	ErrBadMinRemain   = errors.New("must be between 15m and the session duration minus 5m")
	ErrNoRoleOrSource = errors.New("give role_arn (--role-arn) or a profile (--profile) whose config names a role")
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

// ValidateListen checks an IP:PORT listen address.
func ValidateListen(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return ErrBadListen
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return ErrBadListen
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return ErrBadListen
	}
	return nil
}

// minRemainingOK checks min_remaining against the session duration.
func minRemainingOK(minRemaining, duration time.Duration) bool {
	if duration == 0 {
		duration = roles.DefaultDuration
	}
	return minRemaining >= roles.DefaultGraceRemaining && minRemaining <= duration-5*time.Minute
}
