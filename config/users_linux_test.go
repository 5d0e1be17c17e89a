package config

import (
	"github.com/imdsd/imdsd/internal/testutil"
	"os/exec"
	"testing"
)

// Helpers for the tests that play a hostile local user: a real user made
// with useradd for one test and removed after it, and commands run as it.

type testUser = testutil.User

func addUser(tb testing.TB) testUser { tb.Helper(); return testutil.AddUser(tb) }

// runAs runs a shell script as u, with its umask 077, and fails the test if
// the script fails: what the hostile user does, they do as themselves.
func runAs(tb testing.TB, u testUser, script string) {
	tb.Helper()
	cmd := exec.Command("/bin/sh", "-c", "umask 077 && "+script)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.SysProcAttr = u.Cred()
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("as %s (uid %d): %s: %v\n%s", u.Name, u.UID, script, err, out)
	}
}
