package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imdsd/imdsd/internal/motoserver"
)

// TestOps_MFA: a role whose source needs MFA waits for `imdsd mfa`; one code
// opens a session (GetSessionToken, in moto) that lasts 12 hours; the role
// is then assumed from it, and a later refresh (a reload that replaces the
// role's refresher) needs no code again.
func TestOps_MFA(t *testing.T) {
	moto := motoserver.Start(t)
	bin := buildImdsd(t)
	const serial = "arn:aws:iam::123456789012:mfa/ops-user"
	d := startOpsDaemon(t, bin, moto.URL, "role_arn: "+opsRoleARN, "session_name: mfa-one", "mfa_serial: "+serial)

	r := d.waitRole(t, "demo", "needs-mfa")
	if r.MFA == nil || r.MFA.Serial != serial || !r.MFA.Expires.IsZero() {
		t.Errorf("MFA status before a code: %+v", r.MFA)
	}
	if !strings.Contains(r.Reason, "imdsd mfa") {
		t.Errorf("reason %q does not say to run imdsd mfa", r.Reason)
	}
	if _, _, err := opsFetchCredentials(http.DefaultClient, d.url()); err == nil || !strings.Contains(err.Error(), "imdsd mfa") {
		t.Errorf("credentials before a code: %v, want an error document that says to run imdsd mfa", err)
	}
	if code, _, errOut := d.ctl("mfa", "12ab"); code != exitUsage || !strings.Contains(errOut, "6 digits") {
		t.Errorf("mfa 12ab: exit %d, %q", code, errOut)
	}

	// The code comes on stdin, as from a prompt.
	var out, errOut bytes.Buffer
	if code := mfaCommand(context.Background(), []string{"--socket", d.socket}, strings.NewReader("123456\n"), &out, &errOut); code != 0 {
		t.Fatalf("imdsd mfa: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "MFA session for "+serial) || !strings.Contains(out.String(), "roles: demo") {
		t.Errorf("mfa output: %q", out.String())
	}
	r = d.waitRole(t, "demo", "fresh")
	if left := time.Until(r.MFA.Expires); left < 11*time.Hour || left > 13*time.Hour {
		t.Errorf("MFA session lasts %s, want 12h", left)
	}
	if got := servedSession(t, d, moto.URL); got != "mfa-one" {
		t.Errorf("served session %q, want mfa-one", got)
	}

	// A new refresher for the role (reload with another session name)
	// assumes it from the same MFA session: no code asked, no new session.
	d.writeConfig(t, moto.URL, "role_arn: "+opsRoleARN, "session_name: mfa-two", "mfa_serial: "+serial)
	if code, out, errOut := d.ctl("reload"); code != 0 || !strings.Contains(out, "changed demo") {
		t.Fatalf("reload: exit %d %q %q", code, out, errOut)
	}
	if got := servedSession(t, d, moto.URL); got != "mfa-two" {
		t.Errorf("served session %q after the refresh, want mfa-two", got)
	}
	st := d.status(t)
	if st.Roles[0].State != "fresh" || st.Roles[0].MFA == nil || st.Roles[0].MFA.Expires.IsZero() {
		t.Errorf("after the refresh: %+v", st.Roles[0])
	}
	// Info lines are batched (up to 50 ms) and piped: wait for the first.
	if !d.logged("MFA session opened") {
		t.Errorf("the daemon did not log the MFA session:\n%s", d.Out)
	}
	if n := strings.Count(d.Out.String(), "MFA session opened"); n != 1 {
		t.Errorf("MFA sessions opened: %d, want 1", n)
	}
}
