package logging

import (
	"io"
	"sync"
	"time"
)

// Log batching bounds: a line waits at most logBatchDelay, and a batch is
// written at once when it passes logBatchSize.
const (
	logBatchDelay = 50 * time.Millisecond
	logBatchSize  = 64 << 10
)

// batchWriter collects log lines and writes them in batches. With an audit
// line per credential document, a write system call per line cost a
// quarter of the daemon's throughput under load (docs/BENCHMARKS.md);
// batched, a line reaches the journal or file at most logBatchDelay late.
// Close writes what is left. It is used only when logs do not go to a
// terminal.
type batchWriter struct {
	out io.Writer

	mu    sync.Mutex
	buf   []byte
	timer *time.Timer
	// outMu keeps batches in order on out.
	outMu sync.Mutex
	spare []byte
}

func newBatchWriter(out io.Writer) *batchWriter {
	b := &batchWriter{out: out}
	b.timer = time.AfterFunc(time.Hour, func() { _ = b.Flush() })
	b.timer.Stop()
	return b
}

// Write queues one log record.
func (b *batchWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	first := len(b.buf) == 0
	b.buf = append(b.buf, p...)
	full := len(b.buf) >= logBatchSize
	b.mu.Unlock()
	switch {
	case full:
		return len(p), b.Flush()
	case first:
		b.timer.Reset(logBatchDelay)
	}
	return len(p), nil
}

// Flush writes the queued records now.
func (b *batchWriter) Flush() error {
	b.outMu.Lock()
	defer b.outMu.Unlock()
	b.mu.Lock()
	batch := b.buf
	b.buf = b.spare[:0]
	b.mu.Unlock()
	if len(batch) == 0 {
		b.spare = batch
		return nil
	}
	_, err := b.out.Write(batch)
	if cap(batch) <= 4*logBatchSize {
		b.spare = batch[:0]
	} else {
		b.spare = nil
	}
	return err
}

// Close stops the timer and writes what is left.
func (b *batchWriter) Close() error {
	b.timer.Stop()
	return b.Flush()
}
