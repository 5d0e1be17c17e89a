//go:build !linux && !darwin && !windows

package linklocal

import (
	"net"
	"net/netip"
)

const privilegeHint = "not supported on this system"

func addAddr(*net.Interface, netip.Prefix) error { return ErrUnsupported }

func delAddr(*net.Interface, netip.Prefix) error { return ErrUnsupported }
