package control

import (
	"net"

	"golang.org/x/sys/unix"
)

// peerUID returns the uid of the process that opened the listening socket at
// the other end of conn (SO_PEERCRED): the kernel records it, so the server
// cannot forge it.
func peerUID(conn net.Conn) (int, error) {
	var uid int
	err := onUnixSocket(conn, func(fd int) error {
		cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
		if err == nil {
			uid = int(cred.Uid)
		}
		return err
	})
	return uid, err
}
