package config

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

	"go.yaml.in/yaml/v3"

	"github.com/imdsd/imdsd/roles"
)

// NamedRole is one role of roles:, with the file line that named it.
type NamedRole struct {
	Def  roles.Def
	Line int
}

// ClientRule gives a role to the callers it matches (clients:). Every
// condition that is set must match.
type ClientRule struct {
	CIDR           netip.Prefix // cidr: the caller's source address is in it
	ContainerLabel string       // container_label: the caller is a container labelled imdsd.role=<this>
	Namespace      string       // namespace: the caller is a pod of this namespace
	ServiceAccount string       // service_account: the caller is a pod running as this service account
	Role           string       // a name of roles:, or "none"
	Line           int
}

// Containers is containers:.
type Containers struct {
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

// ContainerEndpoint is container_endpoint:.
type ContainerEndpoint struct {
	Listen     []string
	TokenFile  string
	TokenGroup string
}

// Defaults of the multi-role config.
const (
	RoleNone                 = "none"
	ContainerRoleLabel       = "imdsd.role"
	DefaultContainerPort     = 9254
	DefaultEndpointPort      = 9255
	defaultContainerTokenDir = "/run/imdsd"
)

func defaultContainers() Containers {
	return Containers{Port: DefaultContainerPort, EndpointPort: DefaultEndpointPort}
}

// Multi-role config errors.
var (
	ErrBadRoleName     = errors.New("must be 1 to 64 letters, digits, '.', '_' or '-', and not \"none\"")
	ErrRoleNoSource    = errors.New("give role_arn or profile")
	ErrRuleNoRole      = errors.New("each rule needs role and at least one of cidr, container_label, namespace or service_account")
	ErrRuleUnknownRole = errors.New("names no role of roles: (or none)")
	ErrBadCIDR         = errors.New("must be a CIDR such as 10.0.0.0/8")
	ErrBadInterface    = errors.New("must be an interface name of 1 to 15 bytes")
	ErrBadPort         = errors.New("must be a port from 1 to 65535")
	ErrBadSocket       = errors.New("must be an absolute path")
	ErrNotLoopback     = errors.New("must be a loopback IP:PORT (the SDKs accept a FULL_URI over http only on loopback)")
	errNotMappingValue = errors.New("must be a mapping")
	errNotRuleList     = errors.New("must be a list of {cidr|container_label, role} rules")
)

// validRoleName reports whether name may name a role of roles:.
func validRoleName(name string) bool {
	if name == RoleNone || len(name) == 0 || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		switch b := name[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '.', b == '_', b == '-':
		default:
			return false
		}
	}
	return true
}

// rolesValue decodes roles: (name -> role), keeping the file's order. A
// named role's keys are RoleKeys, less the flat-only ones.
func rolesValue(dst *[]NamedRole) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		if n.Kind != yaml.MappingNode {
			return errNotMappingValue
		}
		var out []NamedRole
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if seen[k.Value] {
				return &Error{Field: "roles." + k.Value, Line: k.Line, Err: ErrDuplicate}
			}
			seen[k.Value] = true
			r := NamedRole{Def: roles.Def{Name: k.Value}, Line: k.Line}
			decoders := map[string]func(*yaml.Node) error{}
			for _, rk := range RoleKeys() {
				if !rk.FlatOnly {
					decoders[rk.Name] = plainValue(rk.Kind, rk.def(&r.Def))
				}
			}
			if err := mappingValue("roles."+k.Value, v, decoders); err != nil {
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
				"namespace":       stringValue(&r.Namespace),
				"service_account": stringValue(&r.ServiceAccount),
				"role":            stringValue(&r.Role),
			})
			if err != nil {
				return err
			}
			if cidr != "" {
				p, err := netip.ParsePrefix(cidr)
				if err != nil {
					return &Error{Field: path + ".cidr", Value: cidr, Line: it.Line, Err: ErrBadCIDR}
				}
				r.CIDR = p.Masked()
			}
			out = append(out, r)
		}
		*dst = out
		return nil
	}
}

func containersValue(c *Containers) func(*yaml.Node) error {
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

func containerEndpointValue(c *ContainerEndpoint) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		return mappingValue("container_endpoint", n, map[string]func(*yaml.Node) error{
			"listen":      listValue(&c.Listen),
			"token_file":  stringValue(&c.TokenFile),
			"token_group": stringValue(&c.TokenGroup),
		})
	}
}

// HasRole reports whether roles: defines name.
func (c Config) HasRole(name string) bool {
	for _, r := range c.Roles {
		if r.Def.Name == name {
			return true
		}
	}
	return false
}

// CIDRList returns containers.cidrs parsed (Validate has checked them).
func (c Containers) CIDRList() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range c.CIDRs {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// TokenFilePath returns the container endpoint's token file.
func (e ContainerEndpoint) TokenFilePath() string {
	if e.TokenFile != "" {
		return e.TokenFile
	}
	return filepath.Join(defaultContainerTokenDir, "container-token")
}
