//go:build !linux

package access

import (
	"errors"
	"net/netip"
)

// UnitSupported reports whether UnitFinder works on this OS.
const UnitSupported = false

// UnitFinder finds no unit on this OS: there is no systemd.
type UnitFinder struct{}

// NewUnitFinder returns a UnitFinder.
func NewUnitFinder() *UnitFinder { return &UnitFinder{} }

// Unit fails: systemd units exist on Linux only.
func (*UnitFinder) Unit(remote, local netip.AddrPort) (string, error) {
	return "", errors.New("systemd units exist on Linux only")
}
