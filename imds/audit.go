package imds

import (
	"log/slog"
	"net/http"
)

// audit writes the one line per credential document served that
// Options.Audit asks for: who (client address, and the uid or container
// when known), which role,
// and the last four characters of the access key ID, never more of it. The
// time is the log record's own.
func (s *Server) audit(r *http.Request, c Caller, container, role, keyTail string) {
	if s.opts.Audit == nil {
		return
	}
	who := slog.Attr{}
	switch {
	case c.HasUID:
		who = slog.Int("uid", c.UID)
	case container != "":
		who = slog.String("container", container)
	}
	s.opts.Audit.LogAttrs(r.Context(), slog.LevelInfo, "credentials served",
		slog.String("client", r.RemoteAddr),
		who,
		slog.String("role", role),
		slog.String("access_key", keyTail),
	)
}

// keyTail returns the last four characters of an access key ID, the most
// of it imdsd ever logs (the same rule as roles.KeyTail).
func keyTail(id string) string {
	if len(id) <= 4 {
		return "****"
	}
	return "…" + id[len(id)-4:]
}
