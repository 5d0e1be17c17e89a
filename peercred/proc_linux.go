package peercred

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// procUID finds the uid from /proc/net/tcp and /proc/net/tcp6, where the
// kernel lists every TCP socket of this network namespace with its owner.
// It is the fallback for kernels without inet_diag (the module missing, or
// a sandbox such as gVisor that lacks NETLINK_SOCK_DIAG); it reads the
// whole table, so it is slower.
func procUID(remote, local netip.AddrPort) (int, error) {
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		file, err := os.Open(f)
		if err != nil {
			continue
		}
		uid, err := scanProcTCP(file, remote, local)
		file.Close()
		if err == nil {
			return uid, nil
		}
		if err != ErrNotFound {
			return 0, err
		}
	}
	return 0, ErrNotFound
}

// scanProcTCP looks for the socket whose own address is remote and whose
// peer is local in one /proc/net/tcp{,6} table.
func scanProcTCP(r io.Reader, remote, local netip.AddrPort) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Scan() // header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 {
			continue
		}
		own, err1 := parseProcAddr(f[1])
		peer, err2 := parseProcAddr(f[2])
		if err1 != nil || err2 != nil {
			continue
		}
		if sameAddrPort(own, remote) && sameAddrPort(peer, local) {
			uid, err := strconv.Atoi(f[7])
			if err != nil {
				return 0, fmt.Errorf("peercred: bad uid %q in /proc/net/tcp", f[7])
			}
			return uid, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("peercred: read /proc/net/tcp: %w", err)
	}
	return 0, ErrNotFound
}

func sameAddrPort(a, b netip.AddrPort) bool {
	return a.Port() == b.Port() && a.Addr().Unmap() == b.Addr().Unmap()
}

// parseProcAddr parses "0100007F:1F90": the address as 32-bit words in
// host byte order, hex, and the port in hex.
func parseProcAddr(s string) (netip.AddrPort, error) {
	host, port, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("bad address %q", s)
	}
	raw, err := hex.DecodeString(host)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("bad address %q", s)
	}
	p, err := strconv.ParseUint(port, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad port %q", s)
	}
	// The kernel prints each 32-bit word of the address (network order in
	// memory) as a host-order integer: read the printed integer, then lay
	// it out in memory natively to get the network-order bytes back.
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(raw[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	a, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(a, uint16(p)), nil
}
