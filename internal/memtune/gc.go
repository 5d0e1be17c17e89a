package memtune

import (
	"os"
	"runtime/debug"
)

// gcPercent is the garbage collector's target the daemon runs with, unless
// the GOGC environment variable says otherwise. The heap of an idle imdsd
// is about 1.3 MB live, so with Go's default of 100 a busy daemon collects
// every few MB allocated: at 60,000 requests a second, dozens of cycles a
// second whose fixed cost was 5 % of the server's CPU per request
// (docs/BENCHMARKS.md). 200 halves the cycles for a few MB more heap while
// busy; memtrim.go hands it back when the burst ends. 400 measured no
// better than 200.
const gcPercent = 200

// tuneGC sets gcPercent unless GOGC is set; getenv and set are seams for
// tests. It returns the percent it set, or -1 when it left GOGC alone.
func tuneGC(getenv func(string) string, set func(int) int) int {
	if getenv("GOGC") != "" {
		return -1
	}
	set(gcPercent)
	return gcPercent
}

// TuneGCFromEnv is tuneGC for the running daemon.
func TuneGCFromEnv() int { return tuneGC(os.Getenv, debug.SetGCPercent) }
