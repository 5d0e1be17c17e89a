package logging

import (
	"bytes"
	"fmt"
	"github.com/imdsd/imdsd/internal/testutil"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a goroutine-safe sink that counts writes.
type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuffer) snapshot() (string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String(), l.writes
}

func TestBatchWriter_BatchesAndKeepsOrder(t *testing.T) {
	var out lockedBuffer
	b := newBatchWriter(&out)
	var want strings.Builder
	for i := range 1000 {
		line := fmt.Sprintf("line %04d\n", i)
		want.WriteString(line)
		if _, err := b.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	got, writes := out.snapshot()
	if got != want.String() {
		t.Fatalf("output differs from the lines written, in content or order")
	}
	if writes >= 100 {
		t.Errorf("%d writes for 1000 lines, want them batched", writes)
	}
}

func TestBatchWriter_FlushesOnItsOwn(t *testing.T) {
	var out lockedBuffer
	b := newBatchWriter(&out)
	defer b.Close()
	_, _ = b.Write([]byte("lonely line\n"))
	// No Close: the timer must write it. Poll (bounded) rather than sleep
	// a fixed time.
	testutil.WaitFor(t, 10*time.Second, func() bool { got, _ := out.snapshot(); return got == "lonely line\n" },
		"the queued line written without Close")
}

func TestBatchWriter_ConcurrentWriters(t *testing.T) {
	var out lockedBuffer
	b := newBatchWriter(&out)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				_, _ = fmt.Fprintf(b, "w%d %d\n", w, i)
			}
		}()
	}
	wg.Wait()
	_ = b.Close()
	got, _ := out.snapshot()
	if n := strings.Count(got, "\n"); n != 8*500 {
		t.Fatalf("%d lines written, want %d", n, 8*500)
	}
	for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
		var w, i int
		if _, err := fmt.Sscanf(line, "w%d %d", &w, &i); err != nil {
			t.Fatalf("torn line %q", line)
		}
	}
}

func TestDaemonLogger_WarningsAreWrittenAtOnce(t *testing.T) {
	var out lockedBuffer
	log, closeLog := NewDaemon(&out, "info", "json")
	defer closeLog()
	log.Info("queued first")
	log.With("component", "x").Warn("urgent")
	got, _ := out.snapshot()
	if !strings.Contains(got, "queued first") || !strings.Contains(got, "urgent") ||
		strings.Index(got, "queued first") > strings.Index(got, "urgent") {
		t.Fatalf("after a warning the output is %q, want the info line then the warning", got)
	}
}
