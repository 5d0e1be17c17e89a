package config

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/imdsd/imdsd/imds"
	"github.com/imdsd/imdsd/peercred"
	"github.com/imdsd/imdsd/roles"
)

// MFA errors.
var (
	ErrBadMFASerial   = errors.New("must be an MFA device ARN (arn:aws:iam::123456789012:mfa/NAME) or a hardware serial such as GAHT12345678")
	ErrBadMFADuration = errors.New("must be between 15m and 36h")
)

var mfaSerialPattern = regexp.MustCompile(`^(arn:aws(-[a-z]+)*:iam::\d{12}:(mfa|u2f)/[\w+=,.@/-]+|[A-Z0-9]{9,64})$`)

// Validate checks everything that can be checked without reading the
// shared AWS config or touching the network. field names a key as the
// user set it (the key, or its flag when a flag set it).
func (c Config) Validate(field func(string) string) error {
	return scrub(c.validate(field), c.Secrets())
}

func (c Config) validate(field func(string) string) error {
	bad := func(name, value string, err error) error {
		return &Error{Field: field(name), Value: value, Err: err}
	}
	for _, a := range c.Listen {
		if err := ValidateListen(a); err != nil {
			return bad("listen", a, err)
		}
	}
	if c.IMDSv2 != IMDSv2Optional && c.IMDSv2 != IMDSv2Required {
		return bad("imdsv2", c.IMDSv2, ErrBadIMDSv2)
	}
	if c.Role.RoleARN == "" && c.Role.Profile == "" && c.Role.TrustAnchorARN == "" && len(c.Roles) == 0 {
		return bad("role_arn", "", ErrNoRoleOrSource)
	}
	if err := validateRole(c.Role, bad); err != nil {
		return err
	}
	if !minRemainingOK(c.Role.MinRemaining, c.Role.Duration) {
		return bad("min_remaining", c.Role.MinRemaining.String(), ErrBadMinRemain)
	}
	if c.Role.MFASerial != "" && !mfaSerialPattern.MatchString(c.Role.MFASerial) {
		return bad("mfa_serial", c.Role.MFASerial, ErrBadMFASerial)
	}
	if d := c.Role.MFADuration; d != 0 && (d < roles.MinMFASessionDuration || d > roles.MaxMFASessionDuration) {
		return bad("mfa_session_duration", d.String(), ErrBadMFADuration)
	}
	if c.InstanceID != "" && !validInstanceID(c.InstanceID) {
		return bad("instance_id", c.InstanceID, ErrBadInstanceID)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return bad("log_level", c.LogLevel, ErrBadLogLevel)
	}
	switch c.LogFormat {
	case "auto", "text", "json":
	default:
		return bad("log_format", c.LogFormat, ErrBadLogFormat)
	}
	if err := c.STS.validate(bad); err != nil {
		return err
	}
	if c.MetricsListen != "" {
		if err := ValidateListen(c.MetricsListen); err != nil {
			return bad("metrics_listen", c.MetricsListen, err)
		}
	}
	if err := c.validateMulti(field); err != nil {
		return err
	}
	return c.Security.validate(bad)
}

// validateRole checks one role's keys: the flat role's and each named
// one's, with the same rules.
func validateRole(d roles.Def, bad func(name, value string, err error) error) error {
	if d.RoleARN != "" && roles.ValidateARN(d.RoleARN) != nil {
		return bad("role_arn", d.RoleARN, roles.ErrInvalidARN)
	}
	if d.Region != "" && !imds.ValidRegion(d.Region) {
		return bad("region", d.Region, ErrBadRegion)
	}
	if d.STSEndpoint != "" && roles.ValidateEndpoint(d.STSEndpoint) != nil {
		return bad("sts_endpoint", d.STSEndpoint, roles.ErrInvalidEndpoint)
	}
	if d.SessionName != "" && roles.ValidateSessionName(d.SessionName) != nil {
		return bad("session_name", d.SessionName, roles.ErrInvalidSessionName)
	}
	if d.ExternalID != "" && roles.ValidateExternalID(d.ExternalID) != nil {
		return bad("external_id", "", roles.ErrInvalidExternalID) // a secret: never echoed
	}
	if d.Duration != 0 && roles.ValidateDuration(d.Duration) != nil {
		return bad("duration", d.Duration.String(), roles.ErrInvalidDuration)
	}
	var ke *roles.KeyError
	if err := d.CheckSource(); errors.As(err, &ke) {
		return bad(ke.Key, ke.Value, ke.Err)
	}
	return validateAnywhere(d, bad)
}

// validateMulti checks roles:, clients:, containers: and
// container_endpoint:.
func (c Config) validateMulti(field func(string) string) error {
	bad := func(name, value string, line int, err error) error {
		return &Error{Field: field(name), Value: value, Line: line, Err: err}
	}
	for _, r := range c.Roles {
		key := "roles." + r.Def.Name
		if !validRoleName(r.Def.Name) {
			return bad(key, "", r.Line, ErrBadRoleName)
		}
		if r.Def.RoleARN == "" && r.Def.Profile == "" && r.Def.TrustAnchorARN == "" {
			return bad(key, "", r.Line, ErrRoleNoSource)
		}
		err := validateRole(r.Def, func(name, value string, err error) error {
			return bad(key+"."+name, value, r.Line, err)
		})
		if err != nil {
			return err
		}
	}
	var ke *roles.KeyError
	if _, err := roles.ChainOrder(c.RoleDefs()); errors.As(err, &ke) {
		return bad(ke.Key, ke.Value, 0, ke.Err)
	}
	for i, r := range c.Clients {
		key := fmt.Sprintf("clients[%d]", i)
		if r.Role == "" || (!r.CIDR.IsValid() && r.ContainerLabel == "" && r.Namespace == "" && r.ServiceAccount == "") {
			return bad(key, "", r.Line, ErrRuleNoRole)
		}
		if r.Role != RoleNone && !c.HasRole(r.Role) {
			return bad(key+".role", r.Role, r.Line, ErrRuleUnknownRole)
		}
	}
	if d := c.Containers.DefaultRole; d != "" && d != RoleNone && !c.HasRole(d) {
		return bad("containers.default_role", d, 0, ErrRuleUnknownRole)
	}
	if err := c.Kubernetes.validate(c, bad); err != nil {
		return err
	}
	return c.Containers.validate(c.ContainerEndpoint, bad)
}

func (c Containers) validate(e ContainerEndpoint, bad func(name, value string, line int, err error) error) error {
	for _, ifc := range c.Interfaces {
		if ifc == "" || len(ifc) > 15 {
			return bad("containers.interfaces", ifc, 0, ErrBadInterface)
		}
	}
	for _, s := range c.CIDRs {
		if _, err := netip.ParsePrefix(s); err != nil {
			return bad("containers.cidrs", s, 0, ErrBadCIDR)
		}
	}
	for _, s := range c.Sockets {
		if !filepath.IsAbs(s) {
			return bad("containers.docker_socket", s, 0, ErrBadSocket)
		}
	}
	if c.Port < 1 || c.Port > 65535 {
		return bad("containers.port", strconv.Itoa(c.Port), 0, ErrBadPort)
	}
	if c.EndpointPort < 0 || c.EndpointPort > 65535 {
		return bad("containers.endpoint_port", strconv.Itoa(c.EndpointPort), 0, ErrBadPort)
	}
	for _, a := range e.Listen {
		ap, err := netip.ParseAddrPort(a)
		if err != nil || !ap.Addr().IsLoopback() || ap.Port() == 0 {
			return bad("container_endpoint.listen", a, 0, ErrNotLoopback)
		}
	}
	if e.TokenFile != "" && !filepath.IsAbs(e.TokenFile) {
		return bad("container_endpoint.token_file", e.TokenFile, 0, ErrBadSocket)
	}
	return nil
}

// validate checks the hardening keys.
func (s Security) validate(bad func(name, value string, err error) error) error {
	if s.HopLimit < 0 || s.HopLimit > 255 {
		return bad("hop_limit", strconv.Itoa(s.HopLimit), ErrBadHopLimit)
	}
	if s.HopLimit > 0 && !imds.HopLimitSupported {
		return bad("hop_limit", strconv.Itoa(s.HopLimit), ErrHopUnsupported)
	}
	for _, v := range []struct {
		key string
		n   int
	}{{"rate_limit", s.RateLimit}, {"rate_burst", s.RateBurst}, {"max_conns_per_client", s.MaxConnsPerClient}, {"max_conns", s.MaxConns}} {
		if v.n < 0 {
			return bad(v.key, strconv.Itoa(v.n), ErrBadLimit)
		}
	}
	for _, h := range s.AllowedHosts {
		if !validHost(h) {
			return bad("allowed_hosts", h, ErrBadHost)
		}
	}
	if s.Users.Enabled() && !peercred.Supported {
		return bad("allow_uids", "", ErrUIDUnsupported)
	}
	for _, r := range s.Users.UserRoles {
		if r.Role == "" || (r.User == "") == (r.Group == "") {
			return bad("user_roles", "", ErrBadUserRole)
		}
	}
	for i, u := range s.Users.Units {
		if !validUnit(u.Unit) || u.Role == "" {
			return bad(fmt.Sprintf("units[%d]", i), u.Unit, ErrBadUnit)
		}
	}
	return nil
}
