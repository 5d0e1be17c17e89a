package access

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/imdsd/imdsd/peercred"
)

// UnitSupported reports whether UnitFinder works on this OS.
const UnitSupported = true

// UnitFinder is the Sources.Unit of this machine: the systemd system unit
// of the process that made the client socket of a local connection.
//
// With cgroup v2 (or the hybrid layout, where systemd keeps the same tree
// in a cgroup2 mount) the kernel tells the socket's cgroup id with its uid
// (inet_diag), and the id is the inode of the cgroup's directory: no
// privilege is needed, and the daemon may run as its own user. Where the
// socket sits in the cgroup2 root (a cgroup v1 system), the process is
// found from the socket's inode in /proc/PID/fd instead, which the kernel
// shows only for the daemon's own uid unless it runs as root.
type UnitFinder struct {
	mu   sync.Mutex
	root string // the cgroup2 mount point; "" when there is none
	byID map[uint64]string
}

// NewUnitFinder finds the cgroup2 mount of this process's view.
func NewUnitFinder() *UnitFinder {
	return &UnitFinder{root: cgroup2Mount("/proc/self/mountinfo")}
}

// Unit returns the system unit of the client socket's process, "" when
// it runs in none.
func (f *UnitFinder) Unit(remote, local netip.AddrPort) (string, error) {
	o, err := peercred.Socket(remote, local)
	if err != nil {
		return "", err
	}
	if o.HasCgroup && f.root != "" {
		path, err := f.path(o.CgroupID)
		if err != nil {
			return "", err
		}
		if path != "/" {
			return unitOrNone(UnitOfCgroup(path))
		}
	}
	pid, err := peercred.Process(o.Inode)
	if errors.Is(err, peercred.ErrNotFound) {
		return "", nil // not ours to see: no unit can be proven
	}
	if err != nil {
		return "", err
	}
	file, err := os.Open("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return "", fmt.Errorf("cgroup of pid %d: %w", pid, err)
	}
	defer file.Close()
	return unitOrNone(UnitOfProcCgroup(file))
}

func unitOrNone(unit string, err error) (string, error) {
	if errors.Is(err, ErrNoUnit) {
		return "", nil
	}
	return unit, err
}

// path returns the cgroup path ("/system.slice/x.service") of a cgroup id,
// walking the cgroup2 tree again when the id is new: units start and stop,
// their directories come and go. Walks are serialised; one costs a stat
// per cgroup (a few hundred on a server), and only a caller from a cgroup
// not seen before pays it, once.
func (f *UnitFinder) path(id uint64) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.byID[id]; ok {
		return p, nil
	}
	byID, err := walkCgroups(f.root)
	if err != nil {
		return "", err
	}
	f.byID = byID
	if p, ok := byID[id]; ok {
		return p, nil
	}
	return "", fmt.Errorf("cgroup id %d: no such cgroup under %s", id, f.root)
}

// walkCgroups maps each cgroup directory's inode to its path below root.
func walkCgroups(root string) (map[uint64]string, error) {
	out := map[uint64]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			return nil // a cgroup removed while walking
		}
		if !d.IsDir() {
			return nil
		}
		var st syscall.Stat_t
		if syscall.Stat(p, &st) != nil {
			return nil
		}
		rel := strings.TrimPrefix(p, root)
		if rel == "" {
			rel = "/"
		}
		out[st.Ino] = rel
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk cgroups: %w", err)
	}
	return out, nil
}

// cgroup2Mount returns the mount point of the cgroup2 file system in a
// mountinfo file, or "".
func cgroup2Mount(mountinfo string) string {
	f, err := os.Open(mountinfo)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		for i, v := range fields {
			if v == "-" && i+1 < len(fields) && fields[i+1] == "cgroup2" && len(fields) > 4 {
				return fields[4]
			}
		}
	}
	return ""
}
