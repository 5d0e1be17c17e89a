// Package netnstest runs test code inside a new network namespace, so a
// test that adds addresses or opens listeners changes no interface of the
// machine. It needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN); without it
// the test fails saying so.
package netnstest

import (
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Run runs f on a locked OS thread inside a new network namespace, with
// its loopback brought up when loUp is set (left down otherwise). The
// thread is never unlocked: the runtime discards it when the goroutine
// ends, and the namespace goes with it.
func Run(tb testing.TB, loUp bool, f func()) {
	tb.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		ns, err := netns.New()
		if err != nil {
			done <- err
			return
		}
		defer ns.Close()
		if loUp {
			lo, err := netlink.LinkByName("lo")
			if err == nil {
				err = netlink.LinkSetUp(lo)
			}
			if err != nil {
				done <- err
				return
			}
		}
		defer func() { done <- nil }()
		f()
	}()
	if err := <-done; err != nil {
		tb.Fatalf("set up a network namespace: %v (run the test as root: it needs CAP_SYS_ADMIN and CAP_NET_ADMIN)", err)
	}
}
