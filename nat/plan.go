package nat

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Well-known addresses that containers use.
var (
	// IMDSv4 and IMDSv6 are the instance metadata service's addresses.
	IMDSv4 = netip.MustParseAddr("169.254.169.254")
	IMDSv6 = netip.MustParseAddr("fd00:ec2::254")
	// EndpointV4 is the ECS container credentials endpoint's address, which
	// AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is appended to.
	EndpointV4 = netip.MustParseAddr("169.254.170.2")
)

// ServicePort is the port containers connect to on those addresses.
const ServicePort = 80

// Ports are imdsd's listening ports on each bridge gateway address.
type Ports struct {
	IMDS     uint16 // instance metadata
	Endpoint uint16 // container credentials endpoint; 0 for none
}

// Interface is a network interface of the host, as discovery sees it.
type Interface struct {
	Name   string
	Bridge bool           // a Linux bridge
	Addrs  []netip.Prefix // the host's addresses on it, with the network's prefix length
}

// Bridge is a container network the rules cover: an interface and the
// host's gateway addresses on it.
type Bridge struct {
	Name string
	// V4 is the host's IPv4 address on the bridge and the network's prefix.
	V4 netip.Prefix
	// V6 is the host's global IPv6 address, when the bridge has one.
	V6 netip.Prefix
}

// Networks returns the bridge's container networks (the prefixes, masked).
func (b Bridge) Networks() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range []netip.Prefix{b.V4, b.V6} {
		if p.IsValid() {
			out = append(out, p.Masked())
		}
	}
	return out
}

// Selector chooses which interfaces are container bridges.
type Selector struct {
	// Auto selects Docker's and podman's bridges by name: docker0, br-*,
	// podman*, cni-podman*.
	Auto bool
	// Interfaces are further interfaces to cover, by exact name.
	Interfaces []string
	// CIDRs select the interfaces on which the host has an address inside
	// one of them.
	CIDRs []netip.Prefix
}

// autoBridge reports whether name is one Docker or podman gives a bridge.
func autoBridge(name string) bool {
	return name == "docker0" || strings.HasPrefix(name, "br-") ||
		strings.HasPrefix(name, "podman") || strings.HasPrefix(name, "cni-podman")
}

// Select returns the container bridges among ifaces, sorted by name. An
// interface without an IPv4 address is skipped: there is no gateway address
// to send the traffic to.
func (s Selector) Select(ifaces []Interface) []Bridge {
	var out []Bridge
	for _, ifc := range ifaces {
		if !s.wants(ifc) {
			continue
		}
		b := Bridge{Name: ifc.Name}
		for _, p := range ifc.Addrs {
			a := p.Addr()
			switch {
			case a.Is4() && !a.IsLinkLocalUnicast() && !b.V4.IsValid():
				b.V4 = p
			case a.Is6() && a.IsGlobalUnicast() && !b.V6.IsValid():
				b.V6 = p
			}
		}
		if b.V4.IsValid() {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b Bridge) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (s Selector) wants(ifc Interface) bool {
	if s.Auto && ifc.Bridge && autoBridge(ifc.Name) {
		return true
	}
	if slices.Contains(s.Interfaces, ifc.Name) {
		return true
	}
	for _, p := range ifc.Addrs {
		for _, c := range s.CIDRs {
			if c.Contains(p.Addr()) {
				return true
			}
		}
	}
	return false
}

// Rule is one rule of imdsd's table.
//
// A DNAT rule (Guard false): TCP traffic arriving on Interface for Dest goes
// to To. A guard rule: TCP traffic for Dest (imdsd's listener on a bridge
// gateway address) that arrives on any other interface than Interface is
// dropped, so that only that bridge's containers reach the listener, even
// with a forged source address from another network; a guard with no
// Interface drops that traffic from every interface (the allow rules before
// it let the wanted ones through). An allow rule: TCP traffic for Dest
// arriving on Interface is accepted, so the guard after it does not drop it.
//
// Interface is a name or, for pods, a prefix pattern ending in '+'
// ("cali+", nftables' iifname "cali*").
type Rule struct {
	Interface string
	Dest      netip.AddrPort
	To        netip.AddrPort
	Guard     bool
	Allow     bool
}

// filter reports whether the rule belongs in the input (filter) chain
// rather than the prerouting (nat) one.
func (r Rule) filter() bool { return r.Guard || r.Allow }

// String describes the rule; it is also stored as the rule's comment, which
// is how the Manager recognises its rules.
func (r Rule) String() string {
	switch {
	case r.Guard && r.Interface == "":
		return fmt.Sprintf("imdsd: nothing else reaches %s", r.Dest)
	case r.Guard:
		return fmt.Sprintf("imdsd: only %s reaches %s", r.Interface, r.Dest)
	case r.Allow:
		return fmt.Sprintf("imdsd: %s may reach %s", r.Interface, r.Dest)
	}
	return fmt.Sprintf("imdsd: %s %s -> %s", r.Interface, r.Dest, r.To)
}

// Plan returns the rules for bridges: every DNAT rule, then every guard.
func Plan(bridges []Bridge, ports Ports) []Rule {
	var dnat, guards []Rule
	add := func(ifc string, dest, to netip.AddrPort) {
		dnat = append(dnat, Rule{Interface: ifc, Dest: dest, To: to})
		guards = append(guards, Rule{Interface: ifc, Dest: to, Guard: true})
	}
	for _, b := range bridges {
		gw4 := b.V4.Addr()
		add(b.Name, netip.AddrPortFrom(IMDSv4, ServicePort), netip.AddrPortFrom(gw4, ports.IMDS))
		if ports.Endpoint != 0 {
			add(b.Name, netip.AddrPortFrom(EndpointV4, ServicePort), netip.AddrPortFrom(gw4, ports.Endpoint))
		}
		if b.V6.IsValid() {
			add(b.Name, netip.AddrPortFrom(IMDSv6, ServicePort), netip.AddrPortFrom(b.V6.Addr(), ports.IMDS))
			if ports.Endpoint != 0 {
				// No DNAT for the endpoint over IPv6 (the SDKs know no
				// IPv6 RELATIVE_URI host), but the listener is there.
				guards = append(guards, Rule{Interface: b.Name, Dest: netip.AddrPortFrom(b.V6.Addr(), ports.Endpoint), Guard: true})
			}
		}
	}
	return append(dnat, guards...)
}
