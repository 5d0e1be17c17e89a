//go:build unix

package main

import (
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/imdsd/imdsd/control"
	"github.com/imdsd/imdsd/imds"
	"github.com/imdsd/imdsd/internal/motoserver"
	"github.com/imdsd/imdsd/internal/testutil"
)

// refusedWait bounds what must come at once: a refused reload, status
// after it, the exit after SIGTERM.
const refusedWait = 10 * time.Second

// TestOps_ReloadRefusesRestartKeys (issue 15 item 6): `imdsd reload` of a
// file that changes keys only a restart applies fails (exit 1) naming
// exactly those keys, the daemon goes on as it was (IMDSv1 still served),
// and status shows them as a pending restart until a reload succeeds.
// Before, it printed "reloaded: ... unchanged demo" and exited 0.
func TestOps_ReloadRefusesRestartKeys(t *testing.T) {
	moto := motoserver.Start(t)
	d := startOpsDaemon(t, buildImdsd(t), moto.URL, "role_arn: "+opsRoleARN, "session_name: first")
	d.waitRole(t, "demo", "fresh")

	d.writeConfig(t, moto.URL, "role_arn: "+opsRoleARN, "session_name: second", "imdsv2: required", "hop_limit: 1")
	code, out, errOut := d.ctl("reload")
	const want = "these keys take effect only at a restart: imdsv2, hop_limit; run 'imdsd restart' (nothing was changed)"
	if code != exitError || out != "" || !strings.Contains(errOut, want) {
		t.Fatalf("reload: exit %d, stdout %q, stderr %q; want exit %d and %q", code, out, errOut, exitError, want)
	}
	st := d.status(t)
	if !slices.Equal(st.PendingRestart, []string{"imdsv2", "hop_limit"}) || !strings.Contains(st.ReloadError, want) {
		t.Errorf("status: pending restart %v, reload error %q", st.PendingRestart, st.ReloadError)
	}
	// Nothing was changed: no token is needed, the session is the first.
	resp, err := http.Get(d.url() + imds.PathSecurityCredentials + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("IMDSv1 listing after the refused reload: %d, want 200 (imdsv2 still optional)", resp.StatusCode)
	}
	if got := servedSession(t, d, moto.URL); got != "first" {
		t.Errorf("served session %q after the refused reload, want first", got)
	}
	code, out, errOut = d.ctl("status")
	if code != 0 || !strings.Contains(out, "restart pending: imdsv2, hop_limit changed in the config; run 'imdsd restart' to apply them") {
		t.Errorf("status: exit %d, no pending restart in:\n%s%s", code, out, errOut)
	}

	// The restart keys as running again: the reload applies the rest.
	d.writeConfig(t, moto.URL, "role_arn: "+opsRoleARN, "session_name: second")
	if code, out, errOut := d.ctl("reload"); code != 0 || !strings.Contains(out, "changed demo") {
		t.Fatalf("reload: exit %d, %q %q", code, out, errOut)
	}
	if st := d.status(t); st.PendingRestart != nil || st.ReloadError != "" {
		t.Errorf("after a reload that succeeded: pending restart %v, reload error %q", st.PendingRestart, st.ReloadError)
	}
	if got := servedSession(t, d, moto.URL); got != "second" {
		t.Errorf("served session %q, want second", got)
	}
}

// TestOps_ReloadConfigFIFO (issue 15 item 8): a daemon whose config file
// became a FIFO refuses `imdsd reload` and SIGHUP at once, naming it;
// status answers throughout, and SIGTERM stops it. Before, the reload
// blocked on the FIFO holding the daemon's lock: status timed out, SIGHUP
// blocked and SIGTERM left the daemon running.
func TestOps_ReloadConfigFIFO(t *testing.T) {
	moto := motoserver.Start(t)
	d := startOpsDaemon(t, buildImdsd(t), moto.URL, "role_arn: "+opsRoleARN)
	d.waitRole(t, "demo", "fresh")
	if err := os.Remove(d.config); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(d.config, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // a read blocked on it (the bug) ends
		if f, err := os.OpenFile(d.config, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	type result struct {
		code        int
		out, errOut string
	}
	done := make(chan result, 1)
	go func() { code, out, errOut := d.ctl("reload"); done <- result{code, out, errOut} }()
	var r result
	select {
	case r = <-done:
	case <-time.After(refusedWait):
		t.Fatalf("imdsd reload of a FIFO config still running after %s", refusedWait)
	}
	const want = "is a named pipe (FIFO), not a regular file"
	if r.code != exitError || !strings.Contains(r.errOut, d.config+" "+want) {
		t.Fatalf("reload: exit %d, stdout %q, stderr %q; want exit %d naming the FIFO", r.code, r.out, r.errOut, exitError)
	}
	st := d.status(t)
	if st.Roles[0].State != control.StateFresh {
		t.Errorf("role %s after the refused reload, want fresh", st.Roles[0].State)
	}

	if err := d.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, refusedWait, func() bool { return d.status(t).Reloads == st.Reloads+1 }, "the SIGHUP reload")
	if st := d.status(t); !strings.Contains(st.ReloadError, want) {
		t.Errorf("reload error after SIGHUP %q, want it to name the FIFO", st.ReloadError)
	}

	if err := d.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.Done():
	case <-time.After(refusedWait):
		t.Fatalf("imdsd still running %s after SIGTERM:\n%s", refusedWait, d.Out)
	}
	if code := d.ExitCode(); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0:\n%s", code, d.Out)
	}
}

// TestPrintStatus_ReloadPendingRestart: the human status says which keys
// wait for a restart, and says nothing when none do.
func TestPrintStatus_ReloadPendingRestart(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		pending []string
		want    string
	}{
		{[]string{"imdsv2", "rate_limit"}, "restart pending: imdsv2, rate_limit changed in the config; run 'imdsd restart' to apply them\n"},
		{nil, ""},
	} {
		var b strings.Builder
		printStatus(&b, control.Status{Version: "1.0", Started: now, LastReload: now, Reloads: 1, ReloadError: "these keys ...", PendingRestart: tc.pending}, now, false)
		got := b.String()
		if tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("pending %v: status lacks %q:\n%s", tc.pending, tc.want, got)
		}
		if tc.want == "" && strings.Contains(got, "restart pending") {
			t.Errorf("no pending restart, yet status says one:\n%s", got)
		}
	}
}
