package main

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Memory trimming after a burst. imdsd is idle nearly all the time; after
// a burst (a CI job's hundred SDK clients, a load test) the Go runtime
// keeps the burst's heap until a GC it has no reason to run (an idle
// process allocates nothing) and holds freed pages for minutes. memTrimmer
// notices the burst is over and hands the memory back at once: RSS returns
// to its idle size (scripts/load.sh checks it grows less than 10 MB).
const (
	memTrimInterval = 10 * time.Second
	// memTrimBusy is how much a burst must have allocated since the last
	// trim to be worth trimming after.
	memTrimBusy = 16 << 20
	// memTrimIdle is the most an idle interval allocates (metrics scrapes,
	// refreshes).
	memTrimIdle = 1 << 20
)

// memTrimmer decides when to trim; its funcs are seams for tests.
type memTrimmer struct {
	allocated func() uint64 // cumulative bytes allocated
	free      func()        // give memory back
	last      uint64        // allocated at the previous tick
	sinceTrim uint64        // allocated since the last trim
}

func newMemTrimmer() *memTrimmer {
	m := &memTrimmer{allocated: heapAllocated, free: freeMemory}
	m.last = m.allocated()
	return m
}

// tick looks at the last interval and trims when a burst has just ended.
// It reports whether it trimmed.
func (m *memTrimmer) tick() bool {
	now := m.allocated()
	delta := now - m.last
	m.last = now
	m.sinceTrim += delta
	if delta <= memTrimIdle && m.sinceTrim >= memTrimBusy {
		m.free()
		m.sinceTrim = 0
		return true
	}
	return false
}

// run ticks every memTrimInterval until ctx ends.
func (m *memTrimmer) run(ctx context.Context) {
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

func heapAllocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
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
