package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/imdsd/imdsd/imds"
)

// Security holds the hardening keys of the config file (SECURITY.md
// explains what each one stops).
type Security struct {
	// AllowedHosts are extra Host values to accept besides
	// imds.DefaultAllowedHosts and the listen addresses.
	AllowedHosts []string
	// HopLimit is the IP TTL / IPv6 hop limit of answers; 0 leaves the
	// system default.
	HopLimit int
	// RateLimit is each client's request rate per second, RateBurst its
	// burst; 0 turns the limit off.
	RateLimit int
	RateBurst int
	// MaxConnsPerClient caps one client's concurrent connections; 0 is
	// no cap.
	MaxConnsPerClient int
	// MaxConns caps the connections of every client together; past it
	// the idle one open longest is closed; 0 is no cap.
	MaxConns int
	// Users are the local-user rules.
	Users Users
}

// Users is the local-user part of the config file: which local users may
// have credentials, and which role each gets.
//
//	allow_uids: [1000, alice]         # users (uid or name) given the default role
//	allow_groups: [developers]        # members (primary or supplementary) too
//	user_roles:                       # a role per user or group, first match wins
//	  - {user: bob, role: readonly}
//	  - {group: admins, role: admin}
type Users struct {
	AllowUIDs   []string // allow_uids: uids or user names
	AllowGroups []string // allow_groups: gids or group names
	UserRoles   []UserRole
	Units       []UnitRole
}

// UnitRole gives Role to the processes of a systemd system unit (units:).
type UnitRole struct {
	Unit string
	Role string
}

// UserRole gives Role to a user or to a group's members (user_roles).
type UserRole struct {
	User  string
	Group string
	Role  string
}

// Enabled reports whether any local-user rule is configured.
func (u Users) Enabled() bool {
	return len(u.AllowUIDs)+len(u.AllowGroups)+len(u.UserRoles) > 0
}

// defaultSecurity returns the limits used when the file says nothing.
func defaultSecurity() Security {
	return Security{
		RateLimit:         imds.DefaultRatePerSecond,
		RateBurst:         imds.DefaultRateBurst,
		MaxConnsPerClient: imds.DefaultMaxConnsPerClient,
		MaxConns:          imds.DefaultMaxConns,
	}
}

// Security config errors.
var (
	ErrBadHopLimit    = errors.New("must be between 0 (system default) and 255")
	ErrBadLimit       = errors.New("must be 0 (off) or a positive number")
	ErrBadHost        = errors.New("must be a host name or an IP address")
	ErrHopUnsupported = errors.New("cannot be set on this OS")
	ErrUIDUnsupported = errors.New("needs the peer uid of a connection, which imdsd can find on Linux only")
	ErrBadUserRole    = errors.New("each entry needs role and exactly one of user or group")
	errNotUserRoles   = errors.New("must be a list of {user: NAME_OR_UID, role: ROLE} or {group: NAME_OR_GID, role: ROLE}")
	errNotUnits       = errors.New("must be a list of {unit: NAME.service, role: ROLE}")
	ErrBadUnit        = errors.New("must be a systemd unit name such as billing.service (letters, digits, ':', '_', '.', '\\', '@', '-'; ending .service or .scope), with a role")
)

func isIP(s string) bool { _, err := netip.ParseAddr(s); return err == nil }

// idValue decodes one user, group or role name; a uid or gid may be
// written as a number.
func idValue(dst *string) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int") {
			return errNotUserRoles
		}
		*dst = n.Value
		return nil
	}
}

// userRolesValue decodes user_roles: a list of {user|group, role}.
func userRolesValue(dst *[]UserRole) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		if n.Kind != yaml.SequenceNode {
			return errNotUserRoles
		}
		out := make([]UserRole, 0, len(n.Content))
		for i, it := range n.Content {
			if it.Kind != yaml.MappingNode {
				return errNotUserRoles
			}
			var ur UserRole
			err := mappingValue(fmt.Sprintf("user_roles[%d]", i), it, map[string]func(*yaml.Node) error{
				"user":  idValue(&ur.User),
				"group": idValue(&ur.Group),
				"role":  idValue(&ur.Role),
			})
			if err != nil {
				return err
			}
			out = append(out, ur)
		}
		*dst = out
		return nil
	}
}

// badHostChars are characters a host name cannot hold.
const badHostChars = "/@ :[]?#"

func validHost(h string) bool {
	return h != "" && len(h) <= 253 && (!strings.ContainsAny(h, badHostChars) || isIP(h))
}

// unitsValue decodes units: a list of {unit, role}.
func unitsValue(dst *[]UnitRole) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		if n.Kind != yaml.SequenceNode {
			return errNotUnits
		}
		out := make([]UnitRole, 0, len(n.Content))
		for i, it := range n.Content {
			var ur UnitRole
			err := mappingValue(fmt.Sprintf("units[%d]", i), it, map[string]func(*yaml.Node) error{
				"unit": stringValue(&ur.Unit),
				"role": stringValue(&ur.Role),
			})
			if err != nil {
				return err
			}
			out = append(out, ur)
		}
		*dst = out
		return nil
	}
}

// validUnit reports whether s is a systemd service or scope name.
func validUnit(s string) bool {
	name, ok := strings.CutSuffix(s, ".service")
	if !ok {
		name, ok = strings.CutSuffix(s, ".scope")
	}
	if !ok || name == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(name); i++ {
		switch b := name[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', strings.IndexByte(":_.\\@-", b) >= 0:
		default:
			return false
		}
	}
	return true
}
