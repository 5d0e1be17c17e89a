package linklocal

import (
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
)

// privilegeHint names what a permission error lacks on Windows.
const privilegeHint = "needs Administrator: netsh changes interface addresses"

// addAddr adds p to the loopback pseudo-interface with netsh.
func addAddr(lo *net.Interface, p netip.Prefix) error {
	if p.Addr().Is4() {
		return netsh("interface", "ipv4", "add", "address", lo.Name, p.Addr().String(), "255.255.255.255")
	}
	return netsh("interface", "ipv6", "add", "address", lo.Name, p.String())
}

// delAddr removes p from the loopback pseudo-interface with netsh.
func delAddr(lo *net.Interface, p netip.Prefix) error {
	if p.Addr().Is4() {
		return netsh("interface", "ipv4", "delete", "address", lo.Name, p.Addr().String())
	}
	return netsh("interface", "ipv6", "delete", "address", lo.Name, p.Addr().String())
}

func netsh(args ...string) error {
	out, err := exec.Command("netsh", args...).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if strings.Contains(strings.ToLower(msg), "elevation") || strings.Contains(strings.ToLower(msg), "access is denied") {
			return fmt.Errorf("netsh %s: %s: %w", strings.Join(args, " "), msg, errPermission)
		}
		return fmt.Errorf("netsh %s: %s: %w", strings.Join(args, " "), msg, err)
	}
	return nil
}
