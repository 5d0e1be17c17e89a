package memtune

import (
	"runtime"
	"testing"
)

func TestMemTrimmer_TrimsOnceWhenABurstEnds(t *testing.T) {
	var alloc uint64
	trims := 0
	m := &Trimmer{
		allocated: func() uint64 { return alloc },
		heapFree:  func() uint64 { return 0 }, // start-up left nothing to give back
		free:      func() { trims++ },
	}
	steps := []struct {
		allocate uint64
		want     bool
	}{
		{100 << 10, false}, // idle, nothing to give back
		{40 << 20, false},  // a burst
		{30 << 20, false},  // still busy
		{200 << 10, true},  // quiet again: trim
		{100 << 10, false}, // still quiet: nothing new to give back
		{2 << 20, false},   // a little work, not a burst
		{100 << 10, false},
		{20 << 20, false}, // another burst
		{0, true},
	}
	for i, s := range steps {
		alloc += s.allocate
		if got := m.tick(); got != s.want {
			t.Fatalf("tick %d (allocated %d bytes): trimmed %v, want %v", i, s.allocate, got, s.want)
		}
	}
	if trims != 2 {
		t.Fatalf("trims = %d, want 2", trims)
	}
}

// The first quiet tick after start-up trims when start-up left free heap
// behind, once: later quiet ticks only trim after a burst.
func TestMemTrimmer_TrimsOnceAfterStartUp(t *testing.T) {
	tests := map[string]struct {
		heapFree uint64
		allocate []uint64 // per tick
		want     []bool
	}{
		"free heap left": {
			heapFree: 2 << 20,
			allocate: []uint64{300 << 10, 100 << 10, 0, 5 << 20, 0},
			want:     []bool{true, false, false, false, false},
		},
		"still busy at the first tick": {
			heapFree: 2 << 20,
			allocate: []uint64{3 << 20, 200 << 10, 0},
			want:     []bool{false, true, false},
		},
		"little free heap": {
			heapFree: memTrimStartFree - 1,
			allocate: []uint64{300 << 10, 0, 0},
			want:     []bool{false, false, false},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var alloc uint64
			trims := 0
			m := &Trimmer{
				allocated: func() uint64 { return alloc },
				heapFree:  func() uint64 { return tc.heapFree },
				free:      func() { trims++ },
			}
			want := 0
			for i, a := range tc.allocate {
				alloc += a
				if got := m.tick(); got != tc.want[i] {
					t.Fatalf("tick %d (allocated %d bytes, %d free): trimmed %v, want %v", i, a, tc.heapFree, got, tc.want[i])
				}
				if tc.want[i] {
					want++
				}
			}
			if trims != want {
				t.Fatalf("trims = %d, want %d", trims, want)
			}
		})
	}
}

var memTestSink [][]byte

// heapFree sees the pages a collection frees, and freeMemory returns them.
func TestHeapFree_FreedPagesThenReturned(t *testing.T) {
	// Large objects: each is a span of its own, freed whole by a collection.
	for range 256 {
		memTestSink = append(memTestSink, make([]byte, 64<<10))
	}
	memTestSink = nil
	runtime.GC()
	collected := heapFree()
	if collected < 8<<20 {
		t.Fatalf("heapFree after collecting 16 MB of garbage = %d, want at least 8 MB", collected)
	}
	freeMemory()
	if left := heapFree(); left > collected-8<<20 {
		t.Fatalf("heapFree = %d after freeMemory, %d before: want at least 8 MB returned", left, collected)
	}
}

func TestHeapAllocated_Grows(t *testing.T) {
	before := heapAllocated()
	sink := make([]byte, 1<<20)
	_ = sink
	if after := heapAllocated(); after <= before {
		t.Fatalf("heapAllocated did not grow: %d then %d", before, after)
	}
}
