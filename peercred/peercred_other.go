//go:build !linux

package peercred

import "net/netip"

// Supported reports whether UID works on this OS.
const Supported = false

// UID is not implemented on this OS: macOS and Windows have no interface
// that maps a TCP connection to its owner short of scanning every process.
func UID(remote, local netip.AddrPort) (int, error) { return 0, ErrUnsupported }

// Socket is not implemented on this OS.
func Socket(remote, local netip.AddrPort) (Owner, error) { return Owner{}, ErrUnsupported }

// Process is not implemented on this OS.
func Process(inode uint32) (int, error) { return 0, ErrUnsupported }
