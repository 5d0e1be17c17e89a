package imds

import (
	"bytes"
	"github.com/imdsd/imdsd/internal/testproc"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServer_AuditLine: a line for the first credential document served
// to a client, with the client, uid, role and key tail, and nothing
// secret; the same document served again within the window is counted and
// reported in one line when the window ends.
func TestServer_AuditLine(t *testing.T) {
	now := time.Now()
	creds := testCreds(now)
	var buf bytes.Buffer
	uid := 1234
	s, _ := newTestServer(t, Options{
		Source: staticSource(Role{Name: "demo", Credentials: creds}, nil),
		Now:    time.Now,
		Audit:  slog.New(slog.NewTextHandler(&buf, nil)),
		IdentifyCaller: func(c Caller) Caller {
			c.UID, c.HasUID = uid, true
			return c
		},
	})
	var windowEnd func()
	s.audit.after = func(d time.Duration, f func()) {
		if d != auditWindow {
			t.Errorf("audit window %v, want %v", d, auditWindow)
		}
		windowEnd = f
	}
	do(s, http.MethodGet, PathSecurityCredentials+"/")
	do(s, http.MethodGet, PathSecurityCredentials+"/demo")
	do(s, http.MethodGet, PathExtendedCredentials+"/demo")
	do(s, http.MethodGet, PathSecurityCredentials+"/demo")
	do(s, http.MethodGet, PathSecurityCredentials+"/other")
	first := buf.String()
	uid = 99 // another user on the same address: a line of its own at once
	do(s, http.MethodGet, PathSecurityCredentials+"/demo")
	other := strings.TrimPrefix(buf.String(), first)
	if windowEnd == nil {
		t.Fatal("no end of the audit window scheduled")
	}
	windowEnd()
	repeats := strings.TrimPrefix(buf.String(), first+other)

	check := func(what, got string, want ...string) {
		t.Helper()
		lines := strings.Split(strings.TrimSpace(got), "\n")
		if len(lines) != 1 {
			t.Fatalf("%s: %d audit lines, want 1:\n%s", what, len(lines), got)
		}
		for _, w := range want {
			if !strings.Contains(lines[0], w) {
				t.Errorf("%s: audit line %q lacks %q", what, lines[0], w)
			}
		}
		for _, secret := range []string{creds.SecretAccessKey, creds.SessionToken, creds.AccessKeyID} {
			if strings.Contains(lines[0], secret) {
				t.Errorf("%s: audit line carries a secret or the full key id: %q", what, lines[0])
			}
		}
	}
	check("first document", first, `msg="credentials served"`, "client=192.0.2.1:1234", "uid=1234", "role=demo", "access_key=…Y123", "time=")
	check("another uid", other, `msg="credentials served"`, "uid=99")
	// The uid is the caller: the window's count is the uid's, from any
	// address (issue 15 item 7), and names no address.
	check("end of the window", repeats, `msg="credentials served again"`, "uid=1234", "role=demo", "access_key=…Y123", "times=2", "within=10s")

	// A new window logs the first document again.
	buf.Reset()
	uid = 1234
	do(s, http.MethodGet, PathSecurityCredentials+"/demo")
	check("next window", buf.String(), `msg="credentials served"`, "uid=1234")

	// A container the Source identified is named instead of a uid.
	buf.Reset()
	sc, _ := newTestServer(t, Options{
		Source: staticSource(Role{Name: "demo", Credentials: creds, Container: "web-1"}, nil),
		Now:    time.Now,
		Audit:  slog.New(slog.NewTextHandler(&buf, nil)),
	})
	do(sc, http.MethodGet, PathSecurityCredentials+"/demo")
	if !strings.Contains(buf.String(), "container=web-1") || strings.Contains(buf.String(), "uid=") {
		t.Errorf("audit line for a container: %q, want container=web-1 and no uid", buf.String())
	}
}

// TestServer_AuditCountsFlushedOnStop: the counts of the last window are
// written when Run ends, not lost.
func TestServer_AuditCountsFlushedOnStop(t *testing.T) {
	creds := testCreds(time.Now())
	var buf testproc.Buffer
	s, _ := newTestServer(t, Options{
		Source: staticSource(Role{Name: "demo", Credentials: creds}, nil),
		Now:    time.Now,
		Audit:  slog.New(slog.NewTextHandler(&buf, nil)),
	})
	s.audit.after = func(time.Duration, func()) {} // the window never ends by itself
	addr, stop := runServer(t, s)
	url := "http://" + addr + PathSecurityCredentials + "/demo"
	for i := 0; i < 3; i++ {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); !strings.Contains(got, `msg="credentials served again"`) || !strings.Contains(got, "times=2") {
		t.Fatalf("after Run ended, audit log = %q; want the last window's count (times=2)", got)
	}
}
