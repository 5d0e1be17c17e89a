package linklocal

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
)

// The metadata service addresses, as EC2 serves them.
const (
	IPv4 = "169.254.169.254"
	IPv6 = "fd00:ec2::254"
)

// ErrUnsupported is returned on systems where this package cannot manage
// loopback addresses.
var ErrUnsupported = errors.New("loopback addresses are not supported on this system")

// Prefixes returns the two host prefixes that Add puts on loopback.
func Prefixes() []netip.Prefix {
	return []netip.Prefix{
		netip.PrefixFrom(netip.MustParseAddr(IPv4), 32),
		netip.PrefixFrom(netip.MustParseAddr(IPv6), 128),
	}
}

// Error reports a failed change of a loopback address. When the cause is a
// missing privilege, the message names it (see privilegeHint).
type Error struct {
	Op        string // "add" or "remove"
	Prefix    netip.Prefix
	Interface string
	Err       error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s %s on %s: %v", e.Op, e.Prefix, e.Interface, e.Err)
	if errors.Is(e.Err, fs.ErrPermission) {
		s += " (" + privilegeHint + ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Add puts each prefix on the loopback interface. Prefixes already there
// are left alone. It stops at the first failure.
func Add(prefixes ...netip.Prefix) error {
	lo, err := loopback()
	if err != nil {
		return err
	}
	for _, p := range prefixes {
		ok, err := present(lo, p.Addr())
		if err != nil {
			return &Error{Op: "add", Prefix: p, Interface: lo.Name, Err: err}
		}
		if ok {
			continue
		}
		if err := addAddr(lo, p); err != nil {
			return &Error{Op: "add", Prefix: p, Interface: lo.Name, Err: err}
		}
	}
	return nil
}

// Remove takes each prefix off the loopback interface. Prefixes that are
// not there are skipped. It tries every prefix and returns the joined
// errors.
func Remove(prefixes ...netip.Prefix) error {
	lo, err := loopback()
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range prefixes {
		ok, err := present(lo, p.Addr())
		if err != nil {
			errs = append(errs, &Error{Op: "remove", Prefix: p, Interface: lo.Name, Err: err})
			continue
		}
		if !ok {
			continue
		}
		if err := delAddr(lo, p); err != nil {
			errs = append(errs, &Error{Op: "remove", Prefix: p, Interface: lo.Name, Err: err})
		}
	}
	return errors.Join(errs...)
}

// Present reports whether addr is on the loopback interface.
func Present(addr netip.Addr) (bool, error) {
	lo, err := loopback()
	if err != nil {
		return false, err
	}
	return present(lo, addr)
}

// loopback finds the loopback interface by its flag, not by name: lo on
// Linux, lo0 on macOS, "Loopback Pseudo-Interface 1" on Windows.
func loopback() (*net.Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	for i := range ifs {
		if ifs[i].Flags&net.FlagLoopback != 0 {
			return &ifs[i], nil
		}
	}
	return nil, errors.New("no loopback interface")
}

// present reports whether addr is among the interface's addresses.
func present(lo *net.Interface, addr netip.Addr) (bool, error) {
	addrs, err := lo.Addrs()
	if err != nil {
		return false, fmt.Errorf("list addresses of %s: %w", lo.Name, err)
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		if got, ok := netip.AddrFromSlice(n.IP); ok && got.Unmap() == addr.Unmap() {
			return true, nil
		}
	}
	return false, nil
}

// errPermission marks a tool's refusal for lack of privilege, so that
// errors.Is(err, fs.ErrPermission) holds as it does for EPERM on Linux.
//
//lint:ignore U1000 used by the darwin and windows implementations
var errPermission = fs.ErrPermission
