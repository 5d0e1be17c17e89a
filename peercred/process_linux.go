package peercred

import (
	"errors"
	"fmt"
	"os"
	"strconv"
)

// Process returns a pid of a process that holds the socket with this
// inode, found in /proc/PID/fd the way ss -p does. A socket shared by
// several processes (a fork) gives one of them. It reads the fd tables of
// every process it may see, so callers cache what they learn.
func Process(inode uint32) (int, error) {
	want := "socket:[" + strconv.FormatUint(uint64(inode), 10) + "]"
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("peercred: %w", err)
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		dir := "/proc/" + p.Name() + "/fd/"
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue // gone, or not ours to read
		}
		for _, fd := range fds {
			if link, err := os.Readlink(dir + fd.Name()); err == nil && link == want {
				return pid, nil
			}
		}
	}
	return 0, errors.Join(ErrNotFound, fmt.Errorf("no process holds socket inode %d", inode))
}
