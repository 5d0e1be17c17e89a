package access

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"

	"github.com/imdsd/imdsd/peercred"
)

// UnitSupported reports whether SystemdUnit works on this OS.
const UnitSupported = true

// SystemdUnit is the Sources.Unit of this machine: the systemd system
// unit of the process holding the client socket of a local connection,
// found from the socket's inode (inet_diag), its process (/proc/PID/fd)
// and that process's cgroup. A process in no system unit gives "".
func SystemdUnit(remote, local netip.AddrPort) (string, error) {
	o, err := peercred.Socket(remote, local)
	if err != nil {
		return "", err
	}
	pid, err := peercred.Process(o.Inode)
	if err != nil {
		return "", err
	}
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return "", fmt.Errorf("cgroup of pid %d: %w", pid, err)
	}
	defer f.Close()
	unit, err := UnitOfProcCgroup(f)
	if errors.Is(err, ErrNoUnit) {
		return "", nil
	}
	return unit, err
}
