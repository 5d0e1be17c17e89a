package testutil

import (
	"testing"
	"time"
)

// pollInterval is how often WaitFor looks at its condition.
const pollInterval = time.Millisecond

// WaitFor polls cond until it reports true, and fails tb naming what was
// awaited if that takes longer than timeout. It is for conditions reached
// on other goroutines (a loop, a server) that no event announces; the
// timeout is a bound on a hang, never a duration the test asserts.
func WaitFor(tb testing.TB, timeout time.Duration, cond func() bool, what string) {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			if cond() {
				return
			}
			tb.Fatalf("gave up after %s waiting for %s", timeout, what)
			return
		}
	}
}
