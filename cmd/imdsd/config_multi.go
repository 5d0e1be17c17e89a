package main

// Multi-role config: named roles, client rules that map callers to them,
// containers on this host's bridges, and the container credentials
// endpoint.
//
//	roles:                          # named roles, each with its own STS session
//	  web: {role_arn: arn:aws:iam::123456789012:role/web}
//	  batch: {profile: batch, duration: 2h}
//	clients:                        # first match wins; every key given must match
//	  - {cidr: 10.1.0.0/16, role: batch}
//	  - {container_label: frontend, role: web}   # containers labelled imdsd.role=frontend
//	  - {cidr: 172.17.0.0/16, role: none}
//	containers:
//	  enabled: true                 # DNAT from container bridges (needs root and nftables)
//	  interfaces: [virbr0]          # besides docker0, br-*, podman*, cni-podman*
//	  cidrs: [10.200.0.0/16]        # interfaces with an address in these too
//	  docker_socket: [/var/run/docker.sock, /run/podman/podman.sock]
//	  port: 9254                    # imdsd's IMDS port on each bridge gateway address
//	  endpoint_port: 9255           # its container credentials port there (0: off)
//	  default_role: none            # for containers no rule or label gives a role
//	container_endpoint:
//	  listen: [127.0.0.1:9255]      # loopback, for AWS_CONTAINER_CREDENTIALS_FULL_URI
//	  token_file: /run/imdsd/container-token
//	  token_group: docker
//
// The flat role (role_arn, profile, ...) stays the host's role: loopback
// callers get it (or the role chosen with `imdsd use`). Without a flat
// role, the first of roles: is the host's. A container gets no role unless
// a client rule gives it one or its label imdsd.role names one of roles:.

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/imdsd/imdsd/imds"
	"github.com/imdsd/imdsd/roles"
)

// RoleConfig is one named role of roles:.
type RoleConfig struct {
	Name        string
	RoleARN     string
	Profile     string
	Region      string
	STSEndpoint string
	SessionName string
	Duration    time.Duration
	ExternalID  string
	Line        int
}

// ClientRule gives a role to the callers it matches (clients:). Every
// condition that is set must match. New kinds of conditions are new
// fields, checked in (*clientRouter).matches.
type ClientRule struct {
	CIDR           netip.Prefix // cidr: the caller's source address is in it
	ContainerLabel string       // container_label: the caller is a container labelled imdsd.role=<this>
	Role           string       // a name of roles:, or "none"
	Line           int
}

// ContainersConfig is containers:.
type ContainersConfig struct {
	Enabled      bool
	Interfaces   []string
	CIDRs        []string
	Sockets      []string // docker_socket
	Port         int
	EndpointPort int
	// DefaultRole is what a container gets when no rule and no label give
	// it a role: "" or "none" for none, or a name of roles:.
	DefaultRole string
}

// ContainerEndpointConfig is container_endpoint:.
type ContainerEndpointConfig struct {
	Listen     []string
	TokenFile  string
	TokenGroup string
}

// Defaults of the multi-role config.
const (
	roleNone                 = "none"
	containerRoleLabel       = "imdsd.role"
	defaultContainerPort     = 9254
	defaultEndpointPort      = 9255
	defaultContainerTokenDir = "/run/imdsd"
)

func defaultContainersConfig() ContainersConfig {
	return ContainersConfig{Port: defaultContainerPort, EndpointPort: defaultEndpointPort}
}

// Multi-role config errors.
var (
	errBadRoleName     = errors.New("must be 1 to 64 letters, digits, '.', '_' or '-', and not \"none\"")
	errRoleNoSource    = errors.New("give role_arn or profile")
	errRuleNoRole      = errors.New("each rule needs role and at least one of cidr or container_label")
	errRuleUnknownRole = errors.New("names no role of roles: (or none)")
	errBadCIDR         = errors.New("must be a CIDR such as 10.0.0.0/8")
	errBadInterface    = errors.New("must be an interface name of 1 to 15 bytes")
	errBadPort         = errors.New("must be a port from 1 to 65535")
	errBadSocket       = errors.New("must be an absolute path")
	errNotLoopback     = errors.New("must be a loopback IP:PORT (the SDKs accept a FULL_URI over http only on loopback)")
	errNotMappingValue = errors.New("must be a mapping")
	errNotRuleList     = errors.New("must be a list of {cidr|container_label, role} rules")
)

var roleNamePattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// mappingValue decodes a YAML mapping strictly with a key table; errors
// are *ConfigError naming path.key (just key at the top, path "") and its
// line. A nested key's error passes through as it is.
func mappingValue(path string, n *yaml.Node, keys map[string]func(*yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return &ConfigError{Field: path, Line: n.Line, Err: errNotMappingValue}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := k.Value
		if path != "" {
			field = path + "." + k.Value
		}
		decode, ok := keys[k.Value]
		if !ok || k.Kind != yaml.ScalarNode {
			return &ConfigError{Field: strconv.Quote(field), Line: k.Line, Err: errUnknownKey}
		}
		if seen[k.Value] {
			return &ConfigError{Field: field, Line: k.Line, Err: errDuplicate}
		}
		seen[k.Value] = true
		if err := decode(v); err != nil {
			var ce *ConfigError
			if errors.As(err, &ce) {
				return err
			}
			return &ConfigError{Field: field, Line: v.Line, Err: err}
		}
	}
	return nil
}

// rolesValue decodes roles: (name -> role), keeping the file's order.
func rolesValue(dst *[]RoleConfig) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		if n.Kind != yaml.MappingNode {
			return errNotMappingValue
		}
		var out []RoleConfig
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if seen[k.Value] {
				return &ConfigError{Field: "roles." + k.Value, Line: k.Line, Err: errDuplicate}
			}
			seen[k.Value] = true
			r := RoleConfig{Name: k.Value, Line: k.Line}
			err := mappingValue("roles."+k.Value, v, map[string]func(*yaml.Node) error{
				"role_arn":     stringValue(&r.RoleARN),
				"profile":      stringValue(&r.Profile),
				"region":       stringValue(&r.Region),
				"sts_endpoint": stringValue(&r.STSEndpoint),
				"session_name": stringValue(&r.SessionName),
				"duration":     durationValue(&r.Duration),
				"external_id":  stringValue(&r.ExternalID),
			})
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		*dst = out
		return nil
	}
}

// clientsValue decodes clients: (a list of rules).
func clientsValue(dst *[]ClientRule) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		if n.Kind != yaml.SequenceNode {
			return errNotRuleList
		}
		out := make([]ClientRule, 0, len(n.Content))
		for i, it := range n.Content {
			r := ClientRule{Line: it.Line}
			var cidr string
			path := fmt.Sprintf("clients[%d]", i)
			err := mappingValue(path, it, map[string]func(*yaml.Node) error{
				"cidr":            stringValue(&cidr),
				"container_label": stringValue(&r.ContainerLabel),
				"role":            stringValue(&r.Role),
			})
			if err != nil {
				return err
			}
			if cidr != "" {
				p, err := netip.ParsePrefix(cidr)
				if err != nil {
					return &ConfigError{Field: path + ".cidr", Value: cidr, Line: it.Line, Err: errBadCIDR}
				}
				r.CIDR = p.Masked()
			}
			out = append(out, r)
		}
		*dst = out
		return nil
	}
}

func containersValue(c *ContainersConfig) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		return mappingValue("containers", n, map[string]func(*yaml.Node) error{
			"enabled":       boolValue(&c.Enabled),
			"interfaces":    listValue(&c.Interfaces),
			"cidrs":         listValue(&c.CIDRs),
			"docker_socket": listValue(&c.Sockets),
			"port":          intValue(&c.Port),
			"endpoint_port": intValue(&c.EndpointPort),
			"default_role":  stringValue(&c.DefaultRole),
		})
	}
}

func containerEndpointValue(c *ContainerEndpointConfig) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		return mappingValue("container_endpoint", n, map[string]func(*yaml.Node) error{
			"listen":      listValue(&c.Listen),
			"token_file":  stringValue(&c.TokenFile),
			"token_group": stringValue(&c.TokenGroup),
		})
	}
}

// hasRole reports whether roles: defines name.
func (c Config) hasRole(name string) bool {
	for _, r := range c.Roles {
		if r.Name == name {
			return true
		}
	}
	return false
}

// validateMulti checks roles:, clients:, containers: and
// container_endpoint:.
func (c Config) validateMulti(field func(string) string) error {
	bad := func(name, value string, line int, err error) error {
		return &ConfigError{Field: field(name), Value: value, Line: line, Err: err}
	}
	for _, r := range c.Roles {
		key := "roles." + r.Name
		if !roleNamePattern.MatchString(r.Name) || r.Name == roleNone {
			return bad(key, "", r.Line, errBadRoleName)
		}
		if r.RoleARN == "" && r.Profile == "" {
			return bad(key, "", r.Line, errRoleNoSource)
		}
		if err := validateRoleSpec(r); err != nil {
			var ce *ConfigError
			if errors.As(err, &ce) {
				ce.Field, ce.Line = field(key+"."+ce.Field), r.Line
			}
			return err
		}
	}
	for i, r := range c.Clients {
		key := fmt.Sprintf("clients[%d]", i)
		if r.Role == "" || (!r.CIDR.IsValid() && r.ContainerLabel == "") {
			return bad(key, "", r.Line, errRuleNoRole)
		}
		if r.Role != roleNone && !c.hasRole(r.Role) {
			return bad(key+".role", r.Role, r.Line, errRuleUnknownRole)
		}
	}
	if d := c.Containers.DefaultRole; d != "" && d != roleNone && !c.hasRole(d) {
		return bad("containers.default_role", d, 0, errRuleUnknownRole)
	}
	return c.Containers.validate(c.ContainerEndpoint, bad)
}

// validateRoleSpec checks one named role's fields like the flat ones.
func validateRoleSpec(r RoleConfig) error {
	bad := func(name, value string, err error) error { return &ConfigError{Field: name, Value: value, Err: err} }
	if r.RoleARN != "" && roles.ValidateARN(r.RoleARN) != nil {
		return bad("role_arn", r.RoleARN, roles.ErrInvalidARN)
	}
	if r.Region != "" && !imds.ValidRegion(r.Region) {
		return bad("region", r.Region, errBadRegion)
	}
	if r.STSEndpoint != "" && roles.ValidateEndpoint(r.STSEndpoint) != nil {
		return bad("sts_endpoint", r.STSEndpoint, roles.ErrInvalidEndpoint)
	}
	if r.SessionName != "" && roles.ValidateSessionName(r.SessionName) != nil {
		return bad("session_name", r.SessionName, roles.ErrInvalidSessionName)
	}
	if r.ExternalID != "" && roles.ValidateExternalID(r.ExternalID) != nil {
		return bad("external_id", "", roles.ErrInvalidExternalID)
	}
	if r.Duration != 0 && roles.ValidateDuration(r.Duration) != nil {
		return bad("duration", r.Duration.String(), roles.ErrInvalidDuration)
	}
	return nil
}

func (c ContainersConfig) validate(e ContainerEndpointConfig, bad func(name, value string, line int, err error) error) error {
	for _, ifc := range c.Interfaces {
		if ifc == "" || len(ifc) > 15 {
			return bad("containers.interfaces", ifc, 0, errBadInterface)
		}
	}
	for _, s := range c.CIDRs {
		if _, err := netip.ParsePrefix(s); err != nil {
			return bad("containers.cidrs", s, 0, errBadCIDR)
		}
	}
	for _, s := range c.Sockets {
		if !filepath.IsAbs(s) {
			return bad("containers.docker_socket", s, 0, errBadSocket)
		}
	}
	if c.Port < 1 || c.Port > 65535 {
		return bad("containers.port", strconv.Itoa(c.Port), 0, errBadPort)
	}
	if c.EndpointPort < 0 || c.EndpointPort > 65535 {
		return bad("containers.endpoint_port", strconv.Itoa(c.EndpointPort), 0, errBadPort)
	}
	for _, a := range e.Listen {
		ap, err := netip.ParseAddrPort(a)
		if err != nil || !ap.Addr().IsLoopback() || ap.Port() == 0 {
			return bad("container_endpoint.listen", a, 0, errNotLoopback)
		}
	}
	if e.TokenFile != "" && !filepath.IsAbs(e.TokenFile) {
		return bad("container_endpoint.token_file", e.TokenFile, 0, errBadSocket)
	}
	return nil
}

// cidrs returns containers.cidrs parsed (validate has checked them).
func (c ContainersConfig) cidrs() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range c.CIDRs {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// tokenFile returns the container endpoint's token file.
func (e ContainerEndpointConfig) tokenFile() string {
	if e.TokenFile != "" {
		return e.TokenFile
	}
	return filepath.Join(defaultContainerTokenDir, "container-token")
}
