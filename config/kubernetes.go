package config

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/imdsd/imdsd/imds"
	"github.com/imdsd/imdsd/roles"
)

// Kubernetes is kubernetes: the node agent mode, where every pod on this
// node is a caller with its own role (access's pod step).
type Kubernetes struct {
	Enabled bool
	// NodeName is this node's name; NodeNameEnv when empty.
	NodeName string
	// NodeIP is the node's address the daemon listens on for pods (the
	// DNAT target); NodeIPEnv when empty. IPv4 or IPv6.
	NodeIP string
	// Port is the daemon's IMDS port on NodeIP; PodIdentityPort its Pod
	// Identity endpoint's port there (0: no Pod Identity endpoint).
	Port            int
	PodIdentityPort int
	// Kubeconfig is the kubeconfig file; in-cluster config when empty.
	Kubeconfig string
	// BaseRoleARN resolves role names in pod annotations:
	// arn:aws:iam::ACCOUNT:role/ (with any path) + name.
	BaseRoleARN string
	// DefaultRole is the role (of roles:) of a pod no annotation or rule
	// gives one; none when empty.
	DefaultRole string
	// NamespaceRestrictions: a pod takes its annotation's role only when
	// its namespace permits it (on by default).
	NamespaceRestrictions bool
	// NamespaceRestrictionFormat is how allowed-roles entries match: glob
	// or regexp.
	NamespaceRestrictionFormat string
	// SessionPerPod names each pod in its role session; off, pods with the
	// same role and parameters share one session.
	SessionPerPod bool
	// SessionTags tags each pod's session with its namespace, service
	// account and node (and, with session_per_pod, its name and uid), as
	// EKS Pod Identity does; the role's trust policy must allow
	// sts:TagSession. On by default.
	SessionTags bool
	// Audience is the audience of the service-account tokens the Pod
	// Identity endpoint accepts.
	Audience string
	// Wait bounds how long a request from an address no pod is known to
	// have yet waits for it to appear.
	Wait time.Duration
	// Grace is how long the last known pods are served while the API
	// server is unreachable.
	Grace time.Duration
	// PrefetchGrace is how long a role no pod uses any more keeps its
	// session before it is stopped.
	PrefetchGrace time.Duration
	// MaxRoles bounds the roles assumed for pods at once.
	MaxRoles int
	// Interfaces are the pod interface patterns the DNAT rules match
	// (nftables syntax: cali+ is every name starting with cali).
	Interfaces []string
	// PrintRules prints the DNAT rules instead of installing them, for
	// clusters whose CNI owns the tables.
	PrintRules bool
	// Profile, Region and STSEndpoint are the node's source credentials
	// for the pods' roles; SourceRole instead names a role of roles: whose
	// source they take.
	Profile     string
	Region      string
	STSEndpoint string
	SourceRole  string
}

// Kubernetes defaults.
const (
	// NodeNameEnv is the variable the downward API sets to the node name.
	NodeNameEnv = "NODE_NAME"
	// NodeIPEnv is the variable the downward API sets to status.hostIP.
	NodeIPEnv              = "NODE_IP"
	DefaultPodPort         = 9254
	DefaultPodIdentityPort = 9255
	DefaultAudience        = "pods.eks.amazonaws.com"
	DefaultPodWait         = time.Second
	DefaultPodGrace        = 5 * time.Minute
	DefaultPrefetchGrace   = 10 * time.Minute
	DefaultMaxPodRoles     = 256
	// MaxPodWait is the most a request may wait for its pod: the SDKs'
	// IMDS timeouts are one second.
	MaxPodWait = time.Second
)

// DefaultPodInterfaces are the pod interfaces of the common CNIs: Calico,
// the bridge plugin, Flannel and others' veths, the AWS VPC CNI, Cilium.
func DefaultPodInterfaces() []string { return []string{"cali+", "cni0", "veth+", "eni+", "lxc+"} }

func defaultKubernetes() Kubernetes {
	return Kubernetes{
		NamespaceRestrictions:      true,
		Port:                       DefaultPodPort,
		PodIdentityPort:            DefaultPodIdentityPort,
		NamespaceRestrictionFormat: "glob",
		SessionPerPod:              true,
		SessionTags:                true,
		Audience:                   DefaultAudience,
		Wait:                       DefaultPodWait,
		Grace:                      DefaultPodGrace,
		PrefetchGrace:              DefaultPrefetchGrace,
		MaxRoles:                   DefaultMaxPodRoles,
		Interfaces:                 DefaultPodInterfaces(),
	}
}

// Node returns the node name: node_name, else $NODE_NAME (getenv).
func (k Kubernetes) Node(getenv func(string) string) string {
	if k.NodeName != "" {
		return k.NodeName
	}
	return getenv(NodeNameEnv)
}

// NodeAddr returns the node address pods reach the daemon on: node_ip,
// else $NODE_IP (getenv), or an error naming both.
func (k Kubernetes) NodeAddr(getenv func(string) string) (netip.Addr, error) {
	v := k.NodeIP
	if v == "" {
		v = getenv(NodeIPEnv)
	}
	if v == "" {
		return netip.Addr{}, fmt.Errorf("kubernetes.node_ip: %w", ErrNodeIP)
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("kubernetes.node_ip (or $%s) %q: %w", NodeIPEnv, v, ErrBadNodeIP)
	}
	return a.Unmap(), nil
}

// RequireNode returns the node name, or an error naming the key and the
// variable when neither gives one (the daemon's start in kubernetes mode).
func (k Kubernetes) RequireNode(getenv func(string) string) (string, error) {
	if n := k.Node(getenv); n != "" {
		return n, nil
	}
	return "", &Error{Field: "kubernetes.node_name", Err: ErrNodeName}
}

// Kubernetes errors.
var (
	ErrBadBaseARN         = errors.New("must be a role ARN prefix ending in '/', e.g. arn:aws:iam::123456789012:role/")
	ErrBadRestrictFmt     = errors.New("must be glob or regexp")
	ErrBadPodWait         = errors.New("must be between 0 and 1s (the SDKs give up after one second)")
	ErrBadGrace           = errors.New("must not be negative")
	ErrBadMaxRoles        = errors.New("must be at least 1")
	ErrBadAudience        = errors.New("must not be empty")
	ErrBadPodInterface    = errors.New("must be an interface name or pattern (name+) of 1 to 15 bytes")
	ErrNodeName           = errors.New("give kubernetes.node_name or set $NODE_NAME (the downward API's spec.nodeName)")
	ErrSourceAndProfile   = errors.New("give source_role or profile/region/sts_endpoint, not both")
	ErrNodeIP             = errors.New("give kubernetes.node_ip or set $NODE_IP (the downward API's status.hostIP): the node address pods' DNAT reaches the daemon on")
	ErrBadPodIdentityPort = errors.New("must be a port from 1 to 65535 other than kubernetes.port, or 0 for no Pod Identity endpoint")
	ErrBadNodeIP          = errors.New("must be an IP address of this node (no port), e.g. 10.0.1.17")
)

var (
	baseARNPattern = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::\d{12}:role/([\w+=,.@-]+/)*$`)
	ifacePattern   = regexp.MustCompile(`^[\w.-]{1,15}\+?$`)
)

func kubernetesValue(k *Kubernetes) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		return mappingValue("kubernetes", n, map[string]func(*yaml.Node) error{
			"enabled":                      boolValue(&k.Enabled),
			"node_name":                    stringValue(&k.NodeName),
			"node_ip":                      stringValue(&k.NodeIP),
			"port":                         intValue(&k.Port),
			"pod_identity_port":            intValue(&k.PodIdentityPort),
			"kubeconfig":                   stringValue(&k.Kubeconfig),
			"base_role_arn":                stringValue(&k.BaseRoleARN),
			"default_role":                 stringValue(&k.DefaultRole),
			"namespace_restrictions":       boolValue(&k.NamespaceRestrictions),
			"namespace_restriction_format": stringValue(&k.NamespaceRestrictionFormat),
			"session_per_pod":              boolValue(&k.SessionPerPod),
			"session_tags":                 boolValue(&k.SessionTags),
			"audience":                     stringValue(&k.Audience),
			"wait":                         durationValue(&k.Wait),
			"grace":                        durationValue(&k.Grace),
			"prefetch_grace":               durationValue(&k.PrefetchGrace),
			"max_roles":                    intValue(&k.MaxRoles),
			"interfaces":                   listValue(&k.Interfaces),
			"print_rules":                  boolValue(&k.PrintRules),
			"profile":                      stringValue(&k.Profile),
			"region":                       stringValue(&k.Region),
			"sts_endpoint":                 stringValue(&k.STSEndpoint),
			"source_role":                  stringValue(&k.SourceRole),
		})
	}
}

// validate checks kubernetes: (node_name only when it is enabled: the
// environment is the daemon's, not `config check`'s).
func (k Kubernetes) validate(c Config, bad func(name, value string, line int, err error) error) error {
	if k.NodeIP != "" {
		if _, err := netip.ParseAddr(k.NodeIP); err != nil {
			return bad("kubernetes.node_ip", k.NodeIP, 0, ErrBadNodeIP)
		}
	}
	if k.Port < 1 || k.Port > 65535 {
		return bad("kubernetes.port", strconv.Itoa(k.Port), 0, ErrBadPort)
	}
	if k.PodIdentityPort < 0 || k.PodIdentityPort > 65535 || k.PodIdentityPort == k.Port {
		return bad("kubernetes.pod_identity_port", strconv.Itoa(k.PodIdentityPort), 0, ErrBadPodIdentityPort)
	}
	if k.BaseRoleARN != "" && !baseARNPattern.MatchString(k.BaseRoleARN) {
		return bad("kubernetes.base_role_arn", k.BaseRoleARN, 0, ErrBadBaseARN)
	}
	if d := k.DefaultRole; d != "" && d != RoleNone && !c.HasRole(d) {
		return bad("kubernetes.default_role", d, 0, ErrRuleUnknownRole)
	}
	if s := k.SourceRole; s != "" {
		if !c.HasRole(s) {
			return bad("kubernetes.source_role", s, 0, ErrRuleUnknownRole)
		}
		if k.Profile != "" || k.Region != "" || k.STSEndpoint != "" {
			return bad("kubernetes.source_role", s, 0, ErrSourceAndProfile)
		}
	}
	if k.STSEndpoint != "" && roles.ValidateEndpoint(k.STSEndpoint) != nil {
		return bad("kubernetes.sts_endpoint", k.STSEndpoint, 0, roles.ErrInvalidEndpoint)
	}
	if k.Region != "" && !imds.ValidRegion(k.Region) {
		return bad("kubernetes.region", k.Region, 0, ErrBadRegion)
	}
	switch k.NamespaceRestrictionFormat {
	case "glob", "regexp":
	default:
		return bad("kubernetes.namespace_restriction_format", k.NamespaceRestrictionFormat, 0, ErrBadRestrictFmt)
	}
	if k.Audience == "" {
		return bad("kubernetes.audience", "", 0, ErrBadAudience)
	}
	if k.Wait < 0 || k.Wait > MaxPodWait {
		return bad("kubernetes.wait", k.Wait.String(), 0, ErrBadPodWait)
	}
	if k.Grace < 0 {
		return bad("kubernetes.grace", k.Grace.String(), 0, ErrBadGrace)
	}
	if k.PrefetchGrace < 0 {
		return bad("kubernetes.prefetch_grace", k.PrefetchGrace.String(), 0, ErrBadGrace)
	}
	if k.MaxRoles < 1 {
		return bad("kubernetes.max_roles", strconv.Itoa(k.MaxRoles), 0, ErrBadMaxRoles)
	}
	for _, i := range k.Interfaces {
		if !ifacePattern.MatchString(i) {
			return bad("kubernetes.interfaces", i, 0, ErrBadPodInterface)
		}
	}
	return nil
}
