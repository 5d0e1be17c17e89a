package main

import "testing"

func TestMemTrimmer_TrimsOnceWhenABurstEnds(t *testing.T) {
	var alloc uint64
	trims := 0
	m := &memTrimmer{allocated: func() uint64 { return alloc }, free: func() { trims++ }}
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

func TestHeapAllocated_Grows(t *testing.T) {
	before := heapAllocated()
	sink := make([]byte, 1<<20)
	_ = sink
	if after := heapAllocated(); after <= before {
		t.Fatalf("heapAllocated did not grow: %d then %d", before, after)
	}
}
