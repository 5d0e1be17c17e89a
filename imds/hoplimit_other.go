//go:build !unix

package imds

import "net"

// HopLimitSupported tells whether Options.HopLimit works on this OS.
const HopLimitSupported = false

// setHopLimit is not implemented here; Run refuses Options.HopLimit.
func setHopLimit(net.Conn, int) error { return ErrHopLimitUnsupported }
