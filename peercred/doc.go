// Package peercred finds which local user owns the other end of a TCP
// connection on this machine: the uid of the client socket of a loopback
// connection.
//
// On Linux it asks the kernel with one exact NETLINK_SOCK_DIAG
// (inet_diag) lookup per call, the way ss(8) does; the answer is the uid
// the client socket was created with (sk_uid), which the client cannot
// forge. Where the kernel has no inet_diag it reads /proc/net/tcp{,6}
// instead. On other systems UID returns ErrUnsupported, and imdsd refuses
// uid rules there at start.
package peercred

import "errors"

// Errors of UID.
var (
	// ErrNotFound: no socket with these addresses exists on this host (it
	// closed meanwhile, or its owner lives in another network namespace).
	ErrNotFound = errors.New("peercred: no such socket")
	// ErrUnsupported: this OS has no way to tell a TCP peer's uid.
	ErrUnsupported = errors.New("peercred: not supported on this OS")
)

// Owner is who holds a client socket: the uid it was created with, and its
// inode, by which the process that holds it can be found.
type Owner struct {
	UID   int
	Inode uint32
	// CgroupID is the cgroup v2 id of the socket (the cgroup of the process
	// that made it), valid when HasCgroup: the inode number of that
	// cgroup's directory in the cgroup2 file system.
	CgroupID  uint64
	HasCgroup bool
}
