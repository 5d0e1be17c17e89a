package imds

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Every log line a client can cause once per request goes through a
// lineBudget of its kind: at most logBudgetLines lines of the kind per
// logWindow; the rest are counted and reported, when the window ends, in
// one "lines suppressed" line naming the kind and the count. Without it
// one local user could write thousands of lines a second (issue 15 item 7:
// 3,473 "client refused" warnings in 3.4 s from a caller that resets each
// connection right after sending), which costs the daemon throughput and
// makes journald drop the service's messages, warnings included: its
// default rate limit is 10,000 lines per 30 s per service.
const (
	logWindow = 10 * time.Second
	// logBudgetLines is a kind's budget per window. Eight kinds at 100
	// lines per 10 s, and the audit's own budget (audit.go), stay under a
	// third of journald's default limit.
	logBudgetLines = 100
)

// Every "within" attribute of these lines and of the audit's is the
// window as a Go duration string ("10s"), in the JSON log as in the text
// one: slog writes a time.Duration to JSON in nanoseconds (issue 16 item
// 10: "within":10000000000).

// Log line kinds: the message of each per-request line.
const (
	msgRateLimited   = "client over its rate limit; answering 429"
	msgConnCap       = "client over its connection cap; connection closed"
	msgConnLimit     = "server at its connection limit (max_conns); connection closed"
	msgHopLimit      = "set hop limit; connection closed"
	msgBadHost       = "host not allowed (DNS rebinding?)"
	msgBrowser       = "browser request refused"
	msgClientRefused = "client refused"
	msgNoRole        = "no role for client"
	msgSuppressed    = "lines suppressed"
)

// lineBudget lets one kind of line through at most max times per window.
// A window starts with the first line after the last one ended.
type lineBudget struct {
	log    *slog.Logger
	level  slog.Level
	msg    string
	max    int
	window time.Duration
	now    func() time.Time
	// after schedules the end of a window with suppressed lines;
	// time.AfterFunc, a seam for tests.
	after func(time.Duration, func())

	mu         sync.Mutex
	start      time.Time // of the current window; zero when none
	used       int       // lines let through in it
	suppressed int       // lines held back in it
}

func newLineBudget(log *slog.Logger, level slog.Level, msg string, max int, now func() time.Time) *lineBudget {
	return &lineBudget{
		log: log, level: level, msg: msg, max: max, window: logWindow, now: now,
		after: func(d time.Duration, f func()) { time.AfterFunc(d, f) },
	}
}

// logf writes the line with attrs if the window's budget allows, and
// counts it otherwise.
func (b *lineBudget) logf(attrs ...any) {
	if b == nil || !b.log.Enabled(context.Background(), b.level) {
		return
	}
	if !b.take() {
		return
	}
	b.log.Log(context.Background(), b.level, b.msg, attrs...)
}

// take reports whether one more line fits in the window's budget.
func (b *lineBudget) take() bool {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.suppressed == 0 && (b.start.IsZero() || now.Sub(b.start) >= b.window || now.Before(b.start)) {
		// A new window: the first line, the last window over (with
		// nothing held back: that window ends with its flush), or the
		// clock went back.
		b.start, b.used = now, 0
	}
	if b.used < b.max {
		b.used++
		return true
	}
	if b.suppressed == 0 {
		// The first line held back in this window: report the count
		// when the window ends.
		b.after(max(0, b.window-now.Sub(b.start)), b.flush)
	}
	b.suppressed++
	return false
}

// flush ends the window: one line with the count held back in it. Run
// calls it on shutdown too, so no count is lost.
func (b *lineBudget) flush() {
	if b == nil {
		return
	}
	b.mu.Lock()
	n := b.suppressed
	b.start, b.used, b.suppressed = time.Time{}, 0, 0
	b.mu.Unlock()
	if n > 0 {
		b.log.Log(context.Background(), b.level, msgSuppressed, "line", b.msg, "suppressed", n, "within", b.window.String())
	}
}

// logBudgets holds the line budget of every per-request kind.
type logBudgets struct {
	rateLimited, connCap, hopLimit, badHost, browser, clientRefused, noRole *lineBudget
	connLimit                                                               *lineBudget
}

func newLogBudgets(log *slog.Logger, now func() time.Time) logBudgets {
	warn := func(msg string) *lineBudget { return newLineBudget(log, slog.LevelWarn, msg, logBudgetLines, now) }
	return logBudgets{
		rateLimited:   warn(msgRateLimited),
		connCap:       warn(msgConnCap),
		connLimit:     warn(msgConnLimit),
		hopLimit:      newLineBudget(log, slog.LevelError, msgHopLimit, logBudgetLines, now),
		badHost:       warn(msgBadHost),
		browser:       warn(msgBrowser),
		clientRefused: warn(msgClientRefused),
		noRole:        warn(msgNoRole),
	}
}

// all returns every budget, for flush and for tests.
func (l *logBudgets) all() []*lineBudget {
	return []*lineBudget{l.rateLimited, l.connCap, l.hopLimit, l.badHost, l.browser, l.clientRefused, l.noRole, l.connLimit}
}

// flush reports the counts of every budget's current window.
func (l *logBudgets) flush() {
	for _, b := range l.all() {
		b.flush()
	}
}
