// Package memtune keeps the daemon's memory small: fewer collections
// while busy (TuneGCFromEnv), the heap handed back after a burst
// (Trimmer).
package memtune

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Memory trimming after start-up and after a burst. imdsd is idle nearly
// all the time; after a burst (a CI job's hundred SDK clients, a load test)
// the Go runtime keeps the burst's heap until a GC it has no reason to run
// (an idle process allocates nothing) and holds freed pages for minutes.
// Trimmer notices the burst is over and hands the memory back at once:
// RSS returns to its idle size (scripts/load.sh checks it grows less than
// 10 MB).
//
// Start-up is a burst of its own: the SDK's config (with AWS_CA_BUNDLE set,
// a bundle of some 150 certificates parsed; crypto/x509 parses as many
// system roots at the first TLS handshake to STS), endpoint tables and the
// first credentials allocate a few MB that are garbage once the
// credentials are stored. When that made the runtime collect, the freed
// pages stay resident until the background scavenger returns them minutes
// later (VmRSS as scripts/bench.sh measures it: 19,736 KiB after 60 s idle,
// 19,016 KiB after 5 minutes). So the first quiet tick also trims when the
// runtime holds at least memTrimStartFree of free heap (18,620 KiB after
// 60 s). It does not when start-up never collected: nothing is free then,
// and a first collection would only make the collector's own bookkeeping
// resident (+690 KiB).
const (
	memTrimInterval = 10 * time.Second
	// memTrimBusy is how much a burst must have allocated since the last
	// trim to be worth trimming after.
	memTrimBusy = 16 << 20
	// memTrimIdle is the most an idle interval allocates (metrics scrapes,
	// refreshes).
	memTrimIdle = 1 << 20
	// memTrimStartFree is how much free heap start-up must have left to
	// be worth trimming after.
	memTrimStartFree = 512 << 10
)

// Trimmer decides when to trim; its funcs are seams for tests.
type Trimmer struct {
	allocated func() uint64 // cumulative bytes allocated
	heapFree  func() uint64 // free heap the runtime holds, not yet returned
	free      func()        // give memory back
	last      uint64        // allocated at the previous tick
	sinceTrim uint64        // allocated since the last trim
	quietSeen bool          // a quiet tick has come: start-up is over
}

// NewTrimmer returns a Trimmer on the runtime's own metrics.
func NewTrimmer() *Trimmer {
	m := &Trimmer{allocated: heapAllocated, heapFree: heapFree, free: freeMemory}
	m.last = m.allocated()
	return m
}

// tick looks at the last interval and trims when a burst, or start-up,
// has just ended. It reports whether it trimmed.
func (m *Trimmer) tick() bool {
	now := m.allocated()
	delta := now - m.last
	m.last = now
	m.sinceTrim += delta
	if delta > memTrimIdle {
		return false // busy: wait for a quiet tick
	}
	startUp := !m.quietSeen
	m.quietSeen = true
	if m.sinceTrim >= memTrimBusy || startUp && m.heapFree() >= memTrimStartFree {
		m.free()
		m.sinceTrim = 0
		return true
	}
	return false
}

// run ticks every memTrimInterval until ctx ends.
// Run trims after each burst until ctx ends.
func (m *Trimmer) Run(ctx context.Context) {
	t := time.NewTicker(memTrimInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.tick()
		}
	}
}

func heapAllocated() uint64 { return readMetric("/gc/heap/allocs:bytes") }

// heapFree is the heap the runtime holds free and has not returned to the
// OS: what freeMemory gives back without collecting.
func heapFree() uint64 { return readMetric("/memory/classes/heap/free:bytes") }

func readMetric(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// freeMemory collects twice (objects parked in sync.Pools survive one
// collection) and returns the freed pages to the OS.
func freeMemory() {
	runtime.GC()
	debug.FreeOSMemory()
}
