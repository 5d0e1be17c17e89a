//go:build !unix

package imds

import "net"

// hopLimitSupported tells whether setHopLimit works on this OS.
const hopLimitSupported = false

// setHopLimit is not implemented here; Run refuses Options.HopLimit.
func setHopLimit(net.Conn, int) error { return ErrHopLimitUnsupported }
