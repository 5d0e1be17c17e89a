package doctor

import (
	"fmt"
	"net"
	"strings"

	"github.com/google/nftables"

	"github.com/imdsd/imdsd/nat"
)

// containerRules reports whether this host has container bridges (Docker's
// docker0 and br-*, podman's) and, if so, whether imdsd's DNAT table holds
// rules for them.
func containerRules() (expected, present bool, detail string, err error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return false, false, "", err
	}
	var bridges []string
	for _, i := range ifaces {
		n := i.Name
		if i.Flags&net.FlagUp != 0 && (n == "docker0" || strings.HasPrefix(n, "br-") || strings.HasPrefix(n, "podman") || strings.HasPrefix(n, "cni-podman")) {
			bridges = append(bridges, n)
		}
	}
	if len(bridges) == 0 {
		return false, false, "no container bridge on this host", nil
	}
	conn, err := nftables.New()
	if err != nil {
		return true, false, "", err
	}
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return true, false, "", err
	}
	for _, t := range tables {
		if t.Name != nat.TableName {
			continue
		}
		rules, err := conn.GetRules(t, &nftables.Chain{Name: "prerouting", Table: t})
		if err != nil || len(rules) == 0 {
			return true, false, fmt.Sprintf("table inet %s has no rule (bridges: %s)", nat.TableName, strings.Join(bridges, ", ")), nil
		}
		return true, true, fmt.Sprintf("table inet %s: %d rule(s) for bridges %s", nat.TableName, len(rules), strings.Join(bridges, ", ")), nil
	}
	return true, false, fmt.Sprintf("no table inet %s (bridges: %s)", nat.TableName, strings.Join(bridges, ", ")), nil
}
