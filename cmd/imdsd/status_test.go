package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/imdsd/imdsd/control"
)

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*m`)

func TestPrintStatus(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	st := control.Status{
		Version: "1.0", PID: 42, Started: now.Add(-2 * time.Hour), DefaultRole: "dev",
		Roles: []control.RoleStatus{
			{Name: "dev", Default: true, State: control.StateFresh, Expires: now.Add(50 * time.Minute), LastRefresh: now.Add(-10 * time.Minute), NextRefresh: now.Add(15 * time.Minute), STSCalls: 3, Requests: 120},
			{Name: "administrator", State: control.StateFailing, Reason: "AccessDenied: not authorized", STSCalls: 5, STSFailures: 5},
		},
		Clients: []control.ClientStatus{{Address: "172.17.0.2", Container: "web", Role: "dev", Requests: 7, LastSeen: now.Add(-3 * time.Second)}},
	}
	for _, colour := range []bool{false, true} {
		var b strings.Builder
		printStatus(&b, st, now, colour)
		out := b.String()
		if colour != strings.Contains(out, ansiGreen+"fresh"+ansiReset) || colour != strings.Contains(out, ansiRed+"failing"+ansiReset) {
			t.Errorf("colour %v: wrong colouring:\n%q", colour, out)
		}
		plain := ansi.ReplaceAllString(out, "")
		for _, want := range []string{"up 2h00m", "* dev", "50m00s", "10m00s ago", "in 15m00s", "administrator: AccessDenied: not authorized", "172.17.0.2", "web", "3s ago"} {
			if !strings.Contains(plain, want) {
				t.Errorf("colour %v: lacks %q:\n%s", colour, want, plain)
			}
		}
		var cols []int
		for _, l := range strings.Split(plain, "\n") {
			if i := strings.Index(l, "fresh"); i >= 0 {
				cols = append(cols, i)
			}
			if i := strings.Index(l, "failing"); i >= 0 {
				cols = append(cols, i)
			}
			if i := strings.Index(l, "STATE"); i >= 0 {
				cols = append(cols, i)
			}
		}
		if len(cols) != 3 || cols[0] != cols[1] || cols[1] != cols[2] {
			t.Errorf("colour %v: STATE column not aligned %v:\n%s", colour, cols, plain)
		}
	}
}

// TestStatus_NoDaemon: without a daemon on the control socket, status says
// so and falls back to the service manager's state (exit 3 stopped or 4
// not installed, as the service commands define).
func TestStatus_NoDaemon(t *testing.T) {
	var out, errOut strings.Builder
	code := run(context.Background(), []string{"status", "--socket", filepath.Join(t.TempDir(), "none.sock")}, &out, &errOut)
	if code != exitStopped && code != exitNotInstalled {
		t.Errorf("exit %d, want %d or %d; stdout %q", code, exitStopped, exitNotInstalled, out.String())
	}
	if !strings.Contains(errOut.String(), "imdsd is not running") {
		t.Errorf("stderr %q does not say the daemon is not running", errOut.String())
	}
}
