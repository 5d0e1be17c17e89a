package kube

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestEventSink_DedupAndBounds: one pod+reason is queued once per
// eventDedup; the queue and the dedup memory are bounded, and what they
// drop is logged, never blocking the caller. (Writing through the API is
// TestWatcher_Event.)
func TestEventSink_DedupAndBounds(t *testing.T) {
	clk := newClock()
	var logs bytes.Buffer
	s := newEventSink(nil, "n", clk.Now, slog.New(slog.NewTextHandler(&logs, nil)))
	p := Pod{Namespace: "ns", Name: "p", UID: "u1"}

	s.add(p, "R", "m")
	s.add(p, "R", "m")
	s.add(p, "Other", "m")
	if got := len(s.queue); got != 2 {
		t.Fatalf("queued %d events for R twice and Other once; want 2", got)
	}
	clk.Add(eventDedup)
	s.add(p, "R", "m")
	if got := len(s.queue); got != 3 {
		t.Fatalf("after the dedup window: %d queued; want 3", got)
	}

	for i := range eventQueue + 10 { // more than the queue holds: never blocks
		s.add(Pod{Namespace: "ns", Name: "q", UID: fmt.Sprint("q", i)}, "R", "m")
	}
	if got := len(s.queue); got != eventQueue {
		t.Fatalf("queue holds %d; want its bound %d", got, eventQueue)
	}
	if !strings.Contains(logs.String(), "queue full") {
		t.Fatalf("dropped events not logged; log:\n%s", logs.String())
	}

	clear(s.seen)
	for i := range maxEventKeys { // all recent: nothing to sweep
		s.seen[fmt.Sprint("fill", i)] = clk.Now()
	}
	logs.Reset()
	s.add(Pod{Namespace: "ns", Name: "z", UID: "z"}, "R", "m")
	if len(s.seen) != maxEventKeys || !strings.Contains(logs.String(), "too many recent events") {
		t.Fatalf("dedup memory %d (bound %d), log %q; want it bounded and the drop logged", len(s.seen), maxEventKeys, logs.String())
	}
	clk.Add(eventDedup)
	s.add(Pod{Namespace: "ns", Name: "z", UID: "z"}, "R2", "m")
	if _, ok := s.seen["z/R2"]; !ok || len(s.seen) > maxEventKeys {
		t.Fatalf("after the window: expired keys not swept (%d keys)", len(s.seen))
	}
}
