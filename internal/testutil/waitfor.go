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
	if !Until(timeout, pollInterval, cond) {
		tb.Fatalf("gave up after %s waiting for %s", timeout, what)
	}
}

// Until polls cond every interval until it reports true, and reports
// false if that takes longer than timeout: WaitFor for a caller whose
// failure message tells the state it gave up in (a process's output, a
// count), or whose condition is costly to test (a process to run, a
// control call), so it polls less often.
func Until(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			return cond()
		}
	}
	return true
}
