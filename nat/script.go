package nat

import (
	"fmt"
	"net/netip"
	"strings"
)

// RemoveScript is the nft script that deletes imdsd's table, for an
// administrator who installed the printed rules by hand (or a cleanup hook
// after an agent was killed with SIGKILL): nft -f - <<<"$script".
const RemoveScript = "add table inet " + TableName + "\ndelete table inet " + TableName + "\n"

// Script returns rules as an nft script: `nft -f FILE` installs exactly the
// table a [Manager] applies through netlink (same chains, priorities, rules
// and comments), atomically replacing an older one. It is the print-only
// mode's output, for clusters whose CNI or node image owns the ruleset and
// installs rules itself (a node bootstrap script, a systemd unit ordered
// Before=kubelet.service).
func Script(rules []Rule) (string, error) {
	var nat, filter strings.Builder
	for _, r := range rules {
		line, err := ruleText(r)
		if err != nil {
			return "", err
		}
		b := &nat
		if r.filter() {
			b = &filter
		}
		fmt.Fprintf(b, "\t\t%s\n", line)
	}
	var s strings.Builder
	s.WriteString("# imdsd's metadata DNAT rules; remove them with: nft delete table inet " + TableName + "\n")
	s.WriteString(RemoveScript)
	fmt.Fprintf(&s, "table inet %s {\n", TableName)
	fmt.Fprintf(&s, "\tchain %s {\n\t\ttype nat hook prerouting priority dstnat - 10; policy accept;\n%s\t}\n", chainName, nat.String())
	fmt.Fprintf(&s, "\tchain %s {\n\t\ttype filter hook input priority filter; policy accept;\n%s\t}\n", guardChain, filter.String())
	s.WriteString("}\n")
	return s.String(), nil
}

// The table's chains: DNAT rules in a nat chain on prerouting, guard and
// allow rules in a filter chain on input (the netlink ruleset and the
// script use the same names; a test loads the script and compares).
const (
	chainName  = "prerouting"
	guardChain = "input"
)

// ruleText is one rule in nft's syntax, as `nft list table` prints it.
func ruleText(r Rule) (string, error) {
	var parts []string
	if !(r.Guard && r.Interface == "") {
		if err := ValidatePattern(r.Interface); err != nil {
			return "", err
		}
		name := r.Interface
		if p, ok := strings.CutSuffix(name, "+"); ok {
			name = p + "*"
		}
		op := ""
		if r.Guard {
			op = "!= "
		}
		parts = append(parts, fmt.Sprintf("iifname %s%q", op, name))
	}
	fam := "ip"
	if r.Dest.Addr().Is6() {
		fam = "ip6"
	}
	parts = append(parts, fmt.Sprintf("%s daddr %s tcp dport %d", fam, r.Dest.Addr(), r.Dest.Port()))
	switch {
	case r.Guard:
		parts = append(parts, "drop")
	case r.Allow:
		parts = append(parts, "accept")
	default:
		if r.Dest.Addr().Is4() != r.To.Addr().Is4() {
			return "", fmt.Errorf("rule %s: dnat across address families", r)
		}
		parts = append(parts, fmt.Sprintf("dnat %s to %s", fam, addrPortText(r.To)))
	}
	parts = append(parts, fmt.Sprintf("comment %q", r.String()))
	return strings.Join(parts, " "), nil
}

func addrPortText(ap netip.AddrPort) string {
	if ap.Addr().Is6() {
		return fmt.Sprintf("[%s]:%d", ap.Addr(), ap.Port())
	}
	return ap.String()
}
