//go:build unix

package testutil

import (
	"os"
	"syscall"
	"testing"
)

// LimitFDs sets this process's RLIMIT_NOFILE to the descriptors open now
// plus extra, for tests of what a server does when it runs out (EMFILE),
// and returns the new limit. Call it in a child process: the limit stays.
func LimitFDs(tb testing.TB, extra uint64) uint64 {
	tb.Helper()
	fds, err := os.ReadDir("/dev/fd")
	if err != nil {
		tb.Fatal(err)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		tb.Fatal(err)
	}
	// len-1: reading /dev/fd held one more, closed now.
	lim.Cur = uint64(len(fds)-1) + extra
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		tb.Fatal(err)
	}
	return lim.Cur
}
