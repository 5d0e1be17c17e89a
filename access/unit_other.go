//go:build !linux

package access

import (
	"errors"
	"net/netip"
)

// UnitSupported reports whether SystemdUnit works on this OS.
const UnitSupported = false

// SystemdUnit is not implemented on this OS: there is no systemd.
func SystemdUnit(remote, local netip.AddrPort) (string, error) {
	return "", errors.New("systemd units exist on Linux only")
}
