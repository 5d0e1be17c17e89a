//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/imdsd/imdsd/imds"
)

// TestUserRules_EndToEnd: the real daemon with allow_uids: [0] and a
// user_roles rule, asked over loopback by processes of three users. root
// gets the default role; uid 65534 (nobody) gets none (404); uid 65533,
// named by a user_roles rule, gets that role. The uid comes from the
// kernel, not from anything the client sends. Starting clients as other
// users needs root, as CI runs.
func TestUserRules_EndToEnd(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("this test runs clients as other users and needs root: run it as root (scripts/test.sh does)")
	}
	sts := newFaultSTS(t, time.Now)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "imdsd.yaml")
	// Two roles: the flat one (demo, the default) and "other".
	yaml := "allow_uids: [0]\nroles:\n  other: {role_arn: arn:aws:iam::123456789012:role/other}\nuser_roles:\n  - {user: 65533, role: other}\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startFaultProcess(t, sts.srv.URL, "", "--config", cfg)
	d.waitServing(t)

	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash not found: install bash")
	}
	// ask fetches the role listing as uid with bash's /dev/tcp (no
	// client library, nothing but the socket identifies the caller).
	ask := func(uid uint32) string {
		t.Helper()
		host, port, _ := strings.Cut(d.addr, ":")
		script := "exec 3<>/dev/tcp/" + host + "/" + port + " && printf 'GET " + imds.PathSecurityCredentials +
			"/ HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n' >&3 && cat <&3"
		cmd := exec.Command(bash, "-c", script)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("client as uid %d: %v\n%s", uid, err, out)
		}
		return string(out)
	}
	var got0 string
	faultWait(t, "root's credentials", func() bool { got0 = ask(0); return strings.HasSuffix(got0, "\r\n\r\ndemo") })
	for _, tc := range []struct {
		uid  uint32
		want string
	}{
		{0, "HTTP/1.0 200"},
		{65534, "HTTP/1.0 404"},
		{65533, "HTTP/1.0 200"},
	} {
		got := ask(tc.uid)
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("uid %d: %q, want %s", tc.uid, firstLine([]byte(got)), tc.want)
		}
		if tc.uid == 65533 && !strings.HasSuffix(got, "\r\n\r\nother") {
			t.Errorf("uid 65533: role listing %q, want other", got)
		}
	}
}
