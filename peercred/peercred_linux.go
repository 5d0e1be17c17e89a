package peercred

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Sizes and offsets of the inet_diag structures (linux/inet_diag.h).
const (
	sizeofNlMsghdr     = unix.SizeofNlMsghdr // 16
	sizeofInetDiagReq  = 56                  // struct inet_diag_req_v2
	offsetInetDiagUID  = 64                  // uid in struct inet_diag_msg
	offsetInetDiagIno  = 68                  // inode in struct inet_diag_msg
	inetDiagCgroupID   = 21                  // INET_DIAG_CGROUP_ID: u64 attribute
	sizeofInetDiagMsg  = 72
	sockDiagByFamily   = 20 // SOCK_DIAG_BY_FAMILY
	inetDiagNoCookie   = 0xffffffff
	receiveBufferBytes = 8192
)

// Supported reports whether UID works on this OS.
const Supported = true

// UID returns the uid owning the client socket of the TCP connection that
// the server sees from remote on its own address local: the socket whose
// own address is remote and whose peer is local. It asks inet_diag, and
// reads /proc/net/tcp{,6} where the kernel has no inet_diag.
func UID(remote, local netip.AddrPort) (int, error) {
	o, err := diagOwner(remote, local)
	uid := o.UID
	if err == nil || errors.Is(err, ErrNotFound) {
		return uid, err
	}
	if puid, perr := procUID(remote, local); perr == nil {
		return puid, nil
	}
	return 0, err
}

// Socket returns the owner of the client socket as UID finds it, with the
// socket's inode, by which its process can be found (Process). It needs
// inet_diag: /proc/net/tcp is not read for it.
func Socket(remote, local netip.AddrPort) (Owner, error) { return diagOwner(remote, local) }

// diagOwner is Socket by NETLINK_SOCK_DIAG.
func diagOwner(remote, local netip.AddrPort) (Owner, error) {
	r, l := remote.Addr().Unmap(), local.Addr().Unmap()
	if r.Is4() && l.Is4() {
		o, err := lookup(unix.AF_INET, r, remote.Port(), l, local.Port())
		if !errors.Is(err, ErrNotFound) {
			return o, err
		}
		// The client may hold an IPv6 socket talking to a v4-mapped
		// address.
		return lookup(unix.AF_INET6, netip.AddrFrom16(r.As16()), remote.Port(), netip.AddrFrom16(l.As16()), local.Port())
	}
	return lookup(unix.AF_INET6, netip.AddrFrom16(r.As16()), remote.Port(), netip.AddrFrom16(l.As16()), local.Port())
}

// lookup sends one exact inet_diag request (no dump: the kernel looks the
// socket up by its four-tuple) and returns the owner in the answer.
func lookup(family uint8, src netip.Addr, sport uint16, dst netip.Addr, dport uint16) (Owner, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return Owner{}, fmt.Errorf("peercred: netlink socket: %w", err)
	}
	defer unix.Close(fd)
	tv := unix.Timeval{Sec: 1}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return Owner{}, fmt.Errorf("peercred: netlink timeout: %w", err)
	}
	req := request(family, src, sport, dst, dport)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return Owner{}, fmt.Errorf("peercred: netlink send: %w", err)
	}
	var buf [receiveBufferBytes]byte
	n, _, err := unix.Recvfrom(fd, buf[:], 0)
	if err != nil {
		return Owner{}, fmt.Errorf("peercred: netlink receive: %w", err)
	}
	return parse(buf[:n])
}

// request builds the netlink message: an nlmsghdr and an inet_diag_req_v2
// naming one TCP socket by its addresses (network byte order) with no
// cookie.
func request(family uint8, src netip.Addr, sport uint16, dst netip.Addr, dport uint16) []byte {
	b := make([]byte, sizeofNlMsghdr+sizeofInetDiagReq)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], sockDiagByFamily)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(b[8:], 1) // sequence
	r := b[sizeofNlMsghdr:]
	r[0] = family
	r[1] = unix.IPPROTO_TCP
	ne.PutUint32(r[4:], 0xffffffff) // every state
	id := r[8:]
	binary.BigEndian.PutUint16(id[0:], sport)
	binary.BigEndian.PutUint16(id[2:], dport)
	putAddr(id[4:20], src)
	putAddr(id[20:36], dst)
	ne.PutUint32(id[40:], inetDiagNoCookie)
	ne.PutUint32(id[44:], inetDiagNoCookie)
	return b
}

func putAddr(dst []byte, a netip.Addr) {
	if a.Is4() {
		v := a.As4()
		copy(dst, v[:])
		return
	}
	v := a.As16()
	copy(dst, v[:])
}

// parse reads the kernel's answer: an inet_diag_msg, or an error message
// (ENOENT when no such socket exists).
func parse(b []byte) (Owner, error) {
	ne := binary.NativeEndian
	if len(b) < sizeofNlMsghdr {
		return Owner{}, errors.New("peercred: short netlink answer")
	}
	length, typ := ne.Uint32(b[0:]), ne.Uint16(b[4:])
	if int(length) > len(b) || length < sizeofNlMsghdr {
		return Owner{}, errors.New("peercred: bad netlink answer length")
	}
	body := b[sizeofNlMsghdr:length]
	switch typ {
	case unix.NLMSG_ERROR:
		if len(body) < 4 {
			return Owner{}, errors.New("peercred: short netlink error")
		}
		errno := unix.Errno(-int32(ne.Uint32(body)))
		if errno == unix.ENOENT {
			return Owner{}, ErrNotFound
		}
		return Owner{}, fmt.Errorf("peercred: inet_diag: %w", errno)
	case sockDiagByFamily:
		if len(body) < sizeofInetDiagMsg {
			return Owner{}, errors.New("peercred: short inet_diag answer")
		}
		o := Owner{UID: int(ne.Uint32(body[offsetInetDiagUID:])), Inode: ne.Uint32(body[offsetInetDiagIno:])}
		o.CgroupID, o.HasCgroup = cgroupAttr(body[sizeofInetDiagMsg:])
		return o, nil
	}
	return Owner{}, fmt.Errorf("peercred: unexpected netlink message type %d", typ)
}

// cgroupAttr finds INET_DIAG_CGROUP_ID among the attributes that follow an
// inet_diag_msg: the cgroup v2 id of the socket, taken when the socket was
// made (Linux 5.7 and later send it with every answer).
func cgroupAttr(b []byte) (uint64, bool) {
	ne := binary.NativeEndian
	for len(b) >= 4 {
		l, typ := int(ne.Uint16(b[0:])), ne.Uint16(b[2:])
		if l < 4 || l > len(b) {
			return 0, false
		}
		if typ == inetDiagCgroupID && l >= 12 {
			return ne.Uint64(b[4:12]), true
		}
		b = b[min((l+3)&^3, len(b)):]
	}
	return 0, false
}
