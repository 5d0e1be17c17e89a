package linklocal

import (
	"errors"
	"net"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// privilegeHint names what a permission error lacks on Linux.
const privilegeHint = "needs CAP_NET_ADMIN: run as root, or grant the capability " +
	"(systemd: AmbientCapabilities=CAP_NET_ADMIN)"

// addAddr adds p to the interface through netlink. EEXIST (a race with
// another writer) counts as done.
func addAddr(lo *net.Interface, p netip.Prefix) error {
	link, err := netlink.LinkByIndex(lo.Index)
	if err != nil {
		return err
	}
	a := &netlink.Addr{IPNet: ipNet(p), Scope: int(netlink.SCOPE_HOST)}
	if p.Addr().Is6() {
		// No duplicate address detection: the address is usable at once
		// (a tentative address cannot be bound), and there is no one on lo
		// to collide with.
		a.Flags = unix.IFA_F_NODAD
	}
	err = netlink.AddrAdd(link, a)
	if errors.Is(err, syscall.EEXIST) {
		return nil
	}
	return err
}

// delAddr removes p from the interface through netlink. EADDRNOTAVAIL
// (already gone) counts as done.
func delAddr(lo *net.Interface, p netip.Prefix) error {
	link, err := netlink.LinkByIndex(lo.Index)
	if err != nil {
		return err
	}
	err = netlink.AddrDel(link, &netlink.Addr{IPNet: ipNet(p)})
	if errors.Is(err, syscall.EADDRNOTAVAIL) {
		return nil
	}
	return err
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
