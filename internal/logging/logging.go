// Package logging picks imdsd's log handler once: text on a terminal,
// JSON elsewhere, batched for the daemon off a terminal.
package logging

import (
	"os"

	"context"
	"golang.org/x/term"
	"io"
	"log/slog"
)

// New picks the log handler once: text on a terminal, JSON otherwise,
// unless the format is given.
func New(w io.Writer, level, format string) *slog.Logger {
	return newLoggerTo(w, IsTerminal(w), level, format)
}

// NewDaemon is New for the daemon: off a terminal (the journal,
// a file, a pipe) the records are batched (batchWriter), and close writes
// what is left; call it before exiting.
func NewDaemon(w io.Writer, level, format string) (log *slog.Logger, close func()) {
	if IsTerminal(w) {
		return newLoggerTo(w, true, level, format), func() {}
	}
	b := newBatchWriter(w)
	l := newLoggerTo(b, false, level, format)
	return slog.New(flushOnWarn{l.Handler(), b}), func() { _ = b.Close() }
}

// flushOnWarn writes a warning or an error, and whatever was queued before
// it, at once: only info and debug records wait for the next batch.
type flushOnWarn struct {
	slog.Handler
	b *batchWriter
}

func (h flushOnWarn) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := h.b.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h flushOnWarn) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushOnWarn{h.Handler.WithAttrs(attrs), h.b}
}

func (h flushOnWarn) WithGroup(name string) slog.Handler {
	return flushOnWarn{h.Handler.WithGroup(name), h.b}
}

func newLoggerTo(w io.Writer, tty bool, level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "auto" {
		format = "json"
		if tty {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
