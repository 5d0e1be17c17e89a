//go:build linux

package imds

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// countingHandler is a slog handler that keeps every record's message and
// attributes, for tests of how many lines a flood writes and what they
// say. It passes them on to next (t.Log) too.
// record is one line a countingHandler kept.
type record struct{ msg, text string } // text: "msg k=v k=v"

type countingHandler struct {
	mu    *sync.Mutex
	lines *[]record
	next  slog.Handler
	attrs []slog.Attr
}

func newCountingLogger(tb testing.TB) (*slog.Logger, *countingHandler) {
	h := &countingHandler{mu: &sync.Mutex{}, lines: new([]record), next: testLogger(tb).Handler()}
	return slog.New(h), h
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *countingHandler) Handle(ctx context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		if !a.Equal(slog.Attr{}) {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		}
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	h.mu.Lock()
	*h.lines = append(*h.lines, record{r.Message, b.String()})
	h.mu.Unlock()
	return h.next.Handle(ctx, r)
}

func (h *countingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	c.next = h.next.WithAttrs(as)
	return &c
}

func (h *countingHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	return &c
}

// matching returns the lines whose message is msg and that contain every
// one of the substrings want.
func (h *countingHandler) matching(msg string, want ...string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
next:
	for _, l := range *h.lines {
		if l.msg != msg {
			continue
		}
		for _, w := range want {
			if !strings.Contains(l.text, w) {
				continue next
			}
		}
		out = append(out, l.text)
	}
	return out
}

// all returns every line so far.
func (h *countingHandler) all() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(*h.lines))
	for _, l := range *h.lines {
		out = append(out, l.text)
	}
	return out
}
