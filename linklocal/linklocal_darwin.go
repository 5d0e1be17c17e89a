package linklocal

import (
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
)

// privilegeHint names what a permission error lacks on macOS.
const privilegeHint = "needs root: ifconfig changes lo0 aliases"

// addAddr adds p as an lo0 alias, as aws-vault and others do.
func addAddr(lo *net.Interface, p netip.Prefix) error {
	if p.Addr().Is4() {
		return ifconfig(lo.Name, "alias", p.Addr().String(), "netmask", "255.255.255.255")
	}
	return ifconfig(lo.Name, "inet6", p.Addr().String(), "prefixlen", strconv.Itoa(p.Bits()), "alias")
}

// delAddr removes the lo0 alias p.
func delAddr(lo *net.Interface, p netip.Prefix) error {
	if p.Addr().Is4() {
		return ifconfig(lo.Name, "-alias", p.Addr().String())
	}
	return ifconfig(lo.Name, "inet6", p.Addr().String(), "delete")
}

func ifconfig(args ...string) error {
	out, err := exec.Command("/sbin/ifconfig", args...).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if strings.Contains(msg, "ermission denied") || strings.Contains(msg, "not permitted") {
			return fmt.Errorf("ifconfig %s: %s: %w", strings.Join(args, " "), msg, errPermission)
		}
		return fmt.Errorf("ifconfig %s: %s: %w", strings.Join(args, " "), msg, err)
	}
	return nil
}
