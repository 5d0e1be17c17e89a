package imds

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Audit lines. The first credential document served to a caller (its uid
// or container, else its address) for a role and key is logged at once;
// the same document served to the same caller again within the current
// auditWindow is counted, and the count is logged in one line when the
// window ends. An SDK fetches credentials a few times an hour, so in use
// every fetch has its own line; a client fetching in a loop gets two lines
// per window instead of thousands a second, which would cost a quarter of
// the daemon's throughput (docs/BENCHMARKS.md) and make journald drop the
// service's messages, warnings included (its default rate limit is 10,000
// per 30 s).
//
// The caller is who the connection's identity (Options.ConnIdentity) or
// the Source (Caller.UID) says, not the address, where either is known:
// any 127.0.0.0/8 address reaches a loopback listener, so keyed by address
// one local user wrote 10,905 lines in 7.3 s (issue 15 item 7).
const (
	auditWindow = 10 * time.Second
	// auditMaxKeys bounds the window's table, and so the lines of a
	// window: past it, a new document's line is only counted, and the
	// count is logged in one "lines suppressed" line when the window
	// ends.
	auditMaxKeys = 1024
)

// auditKey is what makes two served documents "the same" for the audit.
type auditKey struct {
	client    clientKey // zero when the uid is known
	uid       int
	hasUID    bool
	container string
	role      string
	keyTail   string
}

// auditor writes the audit lines Options.Audit asks for: who (client
// address, and the uid or container when known), which role, and the last
// four characters of the access key ID, never more of it.
type auditor struct {
	log    *slog.Logger
	window time.Duration
	// after schedules flush; time.AfterFunc, a seam for tests.
	after func(time.Duration, func())
	now   func() time.Time

	mu         sync.Mutex
	repeats    map[auditKey]int // keys logged this window: repeats since
	suppressed int              // new documents not logged this window
	scheduled  bool
}

func newAuditor(log *slog.Logger, now func() time.Time) *auditor {
	if log == nil {
		return nil
	}
	return &auditor{
		log:     log,
		window:  auditWindow,
		after:   func(d time.Duration, f func()) { time.AfterFunc(d, f) },
		now:     now,
		repeats: map[auditKey]int{},
	}
}

// served records one credential document served at now.
func (a *auditor) served(r *http.Request, now time.Time, c Caller, container, role, keyTail string) {
	if a == nil {
		return
	}
	ctx := r.Context()
	if !a.log.Handler().Enabled(ctx, slog.LevelInfo) {
		return
	}
	k := auditKey{client: connOf(r).key, container: container, role: role, keyTail: keyTail}
	if c.HasUID {
		k.client, k.uid, k.hasUID, k.container = clientKey{}, c.UID, true, ""
	}
	a.mu.Lock()
	if n, seen := a.repeats[k]; seen {
		a.repeats[k] = n + 1
		a.mu.Unlock()
		return
	}
	logged := len(a.repeats) < auditMaxKeys
	if logged {
		a.repeats[k] = 0
	} else {
		a.suppressed++
	}
	if !a.scheduled {
		a.scheduled = true
		a.after(a.window, a.flush)
	}
	a.mu.Unlock()
	if !logged {
		return
	}
	a.write(ctx, now, "credentials served", slog.String("client", r.RemoteAddr), k)
}

// flush ends the window: one line for each key served again in it, with
// the count. Run calls it on shutdown too, so no count is lost.
func (a *auditor) flush() {
	if a == nil {
		return
	}
	a.mu.Lock()
	m, suppressed := a.repeats, a.suppressed
	a.repeats = make(map[auditKey]int, len(m))
	a.suppressed = 0
	a.scheduled = false
	a.mu.Unlock()
	now := a.now()
	ctx := context.Background()
	for k, n := range m {
		if n > 0 {
			client := slog.Attr{}
			if k.client.id == "" && k.client.addr.IsValid() {
				client = slog.String(attrClient, k.client.addr.String())
			}
			a.write(ctx, now, "credentials served again", client, k, slog.Int("times", n), slog.String("within", a.window.String()))
		}
	}
	if suppressed > 0 && a.log.Handler().Enabled(ctx, slog.LevelInfo) {
		rec := slog.NewRecord(now, slog.LevelInfo, msgSuppressed, 0)
		rec.AddAttrs(slog.String("line", "credentials served"), slog.Int("suppressed", suppressed), slog.String("within", a.window.String()))
		_ = a.log.Handler().Handle(ctx, rec)
	}
}

// write hands one record to the logger's handler directly, as slog's own
// docs show for wrappers: Logger.LogAttrs would walk the stack for the
// caller's program counter (runtime.Callers) on every record, which no
// handler here prints.
func (a *auditor) write(ctx context.Context, now time.Time, msg string, client slog.Attr, k auditKey, extra ...slog.Attr) {
	h := a.log.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	who := slog.Attr{}
	switch {
	case k.hasUID:
		who = slog.Int("uid", k.uid)
	case k.container != "":
		who = slog.String("container", k.container)
	case k.client.id != "":
		who = slog.String(attrCaller, k.client.id)
	}
	rec := slog.NewRecord(now, slog.LevelInfo, msg, 0)
	rec.AddAttrs(client, who, slog.String("role", k.role), slog.String("access_key", k.keyTail))
	rec.AddAttrs(extra...)
	_ = h.Handle(ctx, rec)
}

// keyTail returns the last four characters of an access key ID, the most
// of it imdsd ever logs (the same rule as roles.KeyTail).
func keyTail(id string) string {
	if len(id) <= 4 {
		return "****"
	}
	return "…" + id[len(id)-4:]
}
