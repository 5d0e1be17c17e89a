package nat

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// The EKS Pod Identity–compatible container endpoint's addresses, which
// AWS_CONTAINER_CREDENTIALS_FULL_URI names (http://169.254.170.23/v1/credentials).
var (
	PodIdentityV4 = netip.MustParseAddr("169.254.170.23")
	PodIdentityV6 = netip.MustParseAddr("fd00:ec2::23")
)

// DefaultPodInterfaces are the host-side names the common CNIs give pod
// interfaces: Calico (cali*), the bridge plugin and flannel (cni0), the
// ptp/kindnet/other veth plugins (veth*), AWS VPC CNI (eni*), Cilium (lxc*).
var DefaultPodInterfaces = []string{"cali+", "cni0", "veth+", "eni+", "lxc+"}

// maxIfname is the longest interface name Linux accepts (IFNAMSIZ - 1).
const maxIfname = 15

// Pods is the DNAT of Kubernetes pods' metadata traffic to the daemon on
// the node: TCP for 169.254.169.254:80 (and [fd00:ec2::254]:80), and for the
// Pod Identity endpoint 169.254.170.23:80 (and [fd00:ec2::23]:80), arriving
// on an interface that matches one of Interfaces, goes to the daemon's
// listener on the node's own address. That listener is then reachable from
// pod interfaces only: the guard drops the same traffic from anywhere else
// (other nodes, the node's own processes, hostNetwork pods), so that an
// address on it always means a pod on this node.
type Pods struct {
	// Interfaces are interface patterns, iptables style: an exact name
	// ("cni0") or a prefix ending in '+' ("cali+" matches cali1234...);
	// nftables writes the latter as iifname "cali*".
	Interfaces []string
	// V4 is the node's IPv4 address the daemon listens on for pods (the
	// pod's status.hostIP); V6 its IPv6 address, if the node has one.
	// At least one must be set.
	V4, V6 netip.Addr
	// IMDS is the daemon's port for the instance metadata service on V4/V6;
	// PodIdentity its port for the Pod Identity endpoint (0: none).
	IMDS        uint16
	PodIdentity uint16
}

// ErrBadPattern is returned for an interface pattern nftables cannot match.
var ErrBadPattern = errors.New("bad interface pattern")

// ValidatePattern checks an interface pattern: 1 to 15 bytes of a name's
// characters, with '+' allowed only at the end (a prefix match).
func ValidatePattern(p string) error {
	name := strings.TrimSuffix(p, "+")
	switch {
	case name == "" && p == "+":
		return fmt.Errorf("%w %q: a lone \"+\" would match every interface, the node's uplink included; name the CNI's prefix (e.g. \"cali+\")", ErrBadPattern, p)
	case name == "":
		return fmt.Errorf("%w %q: empty; use an interface name (\"cni0\") or a prefix ending in + (\"cali+\")", ErrBadPattern, p)
	case len(name) > maxIfname:
		return fmt.Errorf("%w %q: longer than %d bytes, the most an interface name has", ErrBadPattern, p, maxIfname)
	case strings.ContainsAny(name, "+*/ \t\n\"\\:") || strings.ContainsRune(name, 0):
		return fmt.Errorf("%w %q: use letters, digits, '-', '_' or '.', with '+' only at the end for a prefix (\"cali+\", not \"cali*\")", ErrBadPattern, p)
	}
	return nil
}

// Validate checks p before any rule is built from it.
func (p Pods) Validate() error {
	if len(p.Interfaces) == 0 {
		return fmt.Errorf("pod DNAT: no pod interface patterns; list the CNI's (default %s)", strings.Join(DefaultPodInterfaces, ", "))
	}
	for _, pat := range p.Interfaces {
		if err := ValidatePattern(pat); err != nil {
			return fmt.Errorf("pod DNAT: %w", err)
		}
	}
	if !p.V4.IsValid() && !p.V6.IsValid() {
		return errors.New("pod DNAT: no node address to send pods' traffic to; set the node's IP (status.hostIP from the downward API)")
	}
	if p.V4.IsValid() && (!p.V4.Is4() || p.V4.IsLoopback() || p.V4.IsLinkLocalUnicast() || p.V4.IsUnspecified()) {
		return fmt.Errorf("pod DNAT: node IPv4 address %s: must be the node's own routable IPv4 address (not loopback, link-local or 0.0.0.0)", p.V4)
	}
	if p.V6.IsValid() && (p.V6.Is4() || p.V6.Is4In6() || p.V6.IsLoopback() || p.V6.IsLinkLocalUnicast() || p.V6.IsUnspecified()) {
		return fmt.Errorf("pod DNAT: node IPv6 address %s: must be the node's own global IPv6 address", p.V6)
	}
	if p.IMDS == 0 {
		return errors.New("pod DNAT: no IMDS port on the node address")
	}
	return nil
}

// PlanPods returns the rules for p: every DNAT rule, then, for each
// listener address, an allow rule per pattern and a guard dropping the rest.
// p must be valid.
func PlanPods(p Pods) []Rule {
	var dnat, allow []Rule
	listen := func(to netip.AddrPort) {
		for _, pat := range p.Interfaces {
			allow = append(allow, Rule{Interface: pat, Dest: to, Allow: true})
		}
		allow = append(allow, Rule{Dest: to, Guard: true})
	}
	for _, fam := range []struct {
		node, imds, podID netip.Addr
	}{{p.V4, IMDSv4, PodIdentityV4}, {p.V6, IMDSv6, PodIdentityV6}} {
		if !fam.node.IsValid() {
			continue
		}
		to := netip.AddrPortFrom(fam.node, p.IMDS)
		for _, pat := range p.Interfaces {
			dnat = append(dnat, Rule{Interface: pat, Dest: netip.AddrPortFrom(fam.imds, ServicePort), To: to})
		}
		listen(to)
		if p.PodIdentity != 0 {
			to := netip.AddrPortFrom(fam.node, p.PodIdentity)
			for _, pat := range p.Interfaces {
				dnat = append(dnat, Rule{Interface: pat, Dest: netip.AddrPortFrom(fam.podID, ServicePort), To: to})
			}
			listen(to)
		}
	}
	return append(dnat, allow...)
}

// Rules returns the whole table for bridges and (when not nil) pods, in the
// order the table holds them: the DNAT rules (prerouting chain), then the
// filter rules (input chain).
func Rules(bridges []Bridge, ports Ports, pods *Pods) []Rule {
	rules := Plan(bridges, ports)
	if pods != nil {
		rules = append(rules, PlanPods(*pods)...)
	}
	out := slices.Clone(rules)
	slices.SortStableFunc(out, func(a, b Rule) int {
		return boolInt(a.filter()) - boolInt(b.filter())
	})
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
