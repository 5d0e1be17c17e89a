package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/imdsd/imdsd/internal/motoserver"
)

// TestOps_MultiRole: with several roles, `use` switches the host's role and
// the choice survives a restart; `creds --role` reaches any role; a reload
// adds and removes roles under load with zero failed requests.
func TestOps_MultiRole(t *testing.T) {
	moto := motoserver.Start(t)
	bin := buildImdsd(t)
	rolesYAML := func(extra string) []string {
		return []string{"role_arn: " + opsRoleARN, "session_name: multi",
			"roles:", "  web: {role_arn: arn:aws:iam::123456789012:role/web-app}" + extra}
	}
	d := startOpsDaemon(t, bin, moto.URL, rolesYAML("")...)
	d.waitRole(t, "demo", "fresh")
	d.waitRole(t, "web", "fresh")

	t.Run("creds --role", func(t *testing.T) {
		code, out, errOut := d.ctl("creds", "--role", "web", "--format", "json")
		if code != 0 || !strings.Contains(out, `"role": "web"`) {
			t.Fatalf("exit %d %q %q", code, out, errOut)
		}
	})
	t.Run("use survives a restart", func(t *testing.T) {
		if code, out, errOut := d.ctl("use", "web"); code != 0 || !strings.Contains(out, "default role: web (was demo)") {
			t.Fatalf("use web: exit %d %q %q", code, out, errOut)
		}
		if name, _, err := opsFetchCredentials(http.DefaultClient, d.url()); err != nil || name != "web-app" {
			t.Fatalf("served %q, %v; want web-app", name, err)
		}
		d.stop(t)
		d.start(t)
		d.waitRole(t, "web", "fresh")
		if st := d.status(t); st.DefaultRole != "web" {
			t.Errorf("default role after a restart %q, want web", st.DefaultRole)
		}
		if got := servedSession(t, d, moto.URL); got != "multi" {
			t.Errorf("session %q", got)
		}
		if name, _, err := opsFetchCredentials(http.DefaultClient, d.url()); err != nil || name != "web-app" {
			t.Errorf("served %q after a restart, %v; want web-app", name, err)
		}
		if code, _, _ := d.ctl("use", "demo"); code != 0 {
			t.Fatal("use demo failed")
		}
	})
	t.Run("roles added and removed under load", func(t *testing.T) {
		load := startOpsLoad(t, d.url(), 4)
		load.waitMore(t, 200)
		d.writeConfig(t, moto.URL, rolesYAML("\n  batch: {role_arn: arn:aws:iam::123456789012:role/batch, duration: 2h}")...)
		if code, out, errOut := d.ctl("reload"); code != 0 || !strings.Contains(out, "added batch; removed -; changed -; unchanged demo, web") {
			t.Fatalf("reload: exit %d %q %q", code, out, errOut)
		}
		d.waitRole(t, "batch", "fresh")
		load.waitMore(t, 100)
		d.writeConfig(t, moto.URL, "role_arn: "+opsRoleARN, "session_name: multi")
		if code, out, errOut := d.ctl("reload"); code != 0 || !strings.Contains(out, "added -; removed web, batch; changed -; unchanged demo") {
			t.Fatalf("reload: exit %d %q %q", code, out, errOut)
		}
		load.waitMore(t, 100)
		load.end()
		if n := load.failed.Load(); n != 0 {
			t.Errorf("%d requests failed; first: %v", n, load.firstErr.Load())
		}
		if st := d.status(t); len(st.Roles) != 1 || st.Roles[0].Name != "demo" {
			t.Errorf("roles after the removal: %+v", st.Roles)
		}
	})
}
