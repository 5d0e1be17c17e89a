package imds

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServer_AuditJSONWithin: the JSON audit log writes the window of a
// "credentials served again" line as the text log does, "10s", not as
// nanoseconds (issue 16 item 10: "within":10000000000).
func TestServer_AuditJSONWithin(t *testing.T) {
	var buf bytes.Buffer
	s, _ := newTestServer(t, Options{
		Source: staticSource(Role{Name: "demo", Credentials: testCreds(time.Now())}, nil),
		Now:    time.Now,
		Audit:  slog.New(slog.NewJSONHandler(&buf, nil)),
	})
	var windowEnd func()
	s.audit.after = func(_ time.Duration, f func()) { windowEnd = f }
	do(s, http.MethodGet, PathSecurityCredentials+"/demo")
	do(s, http.MethodGet, PathSecurityCredentials+"/demo")
	if windowEnd == nil {
		t.Fatal("no end of the audit window scheduled")
	}
	windowEnd()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var again map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &again); err != nil {
		t.Fatalf("last audit line %q: %v", lines[len(lines)-1], err)
	}
	if again["msg"] != "credentials served again" {
		t.Fatalf("last audit line %q, want the repeats' line", lines[len(lines)-1])
	}
	if got := again["within"]; got != "10s" {
		t.Errorf(`"within" = %#v, want "10s"`, got)
	}
}
