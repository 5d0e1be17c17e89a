package control

import (
	"github.com/imdsd/imdsd/internal/testutil"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/imdsd/imdsd/internal/testproc"
)

// Helpers for the tests that play a hostile local user: real users and
// groups, made with useradd and groupadd for one test and removed after it,
// and copies of this test binary running as them.

type testUser = testutil.User

func addUser(tb testing.TB) testUser       { tb.Helper(); return testutil.AddUser(tb) }
func addGroup(tb testing.TB) (string, int) { tb.Helper(); return testutil.AddGroup(tb) }

// sharedDir returns a new root-owned directory of mode 0755 that every user
// can reach. Its path is short, unlike t.TempDir's: a unix socket's path
// must fit in 108 bytes.
func sharedDir(tb testing.TB) string {
	tb.Helper()
	d, err := os.MkdirTemp("", "ic")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		tb.Fatal(err)
	}
	return d
}

// stickyTmp returns a directory like /tmp: mode 1777, for TMPDIR.
func stickyTmp(tb testing.TB) string {
	tb.Helper()
	d := filepath.Join(sharedDir(tb), "tmp")
	if err := os.Mkdir(d, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(d, fs.ModeSticky|0o777); err != nil {
		tb.Fatal(err)
	}
	return d
}

// testBinary returns a copy of this test binary that every user may run.
func testBinary(tb testing.TB) string {
	tb.Helper()
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		tb.Fatal(err)
	}
	bin := filepath.Join(sharedDir(tb), "control.test")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		tb.Fatal(err)
	}
	return bin
}

// helperCmd runs TestHelperProcess in mode as u, with only the environment
// given (no XDG_RUNTIME_DIR, as under su, sudo or cron) and, besides u's
// own group, the groups in extraGroups.
func helperCmd(tb testing.TB, bin string, u testUser, mode string, env []string, extraGroups ...int) *exec.Cmd {
	tb.Helper()
	cmd := exec.Command(bin, "-test.run=^TestHelperProcess$", "-test.v")
	cmd.Dir = "/"
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/nonexistent", "CONTROL_HELPER=" + mode}, env...)
	cmd.SysProcAttr = u.Cred(extraGroups...)
	return cmd
}

// runHelper runs a helper to its end and fails the test if it fails.
func runHelper(tb testing.TB, cmd *exec.Cmd) string {
	tb.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("%s as uid %d: %v\n%s", cmd.Env[2], cmd.SysProcAttr.Credential.Uid, err, out)
	}
	tb.Logf("%s as uid %d:\n%s", cmd.Env[2], cmd.SysProcAttr.Credential.Uid, out)
	return string(out)
}

// startHelper starts a helper that serves until the test ends (its stdin
// closes) and waits for it to print "ready".
func startHelper(tb testing.TB, cmd *exec.Cmd) *testproc.Buffer {
	tb.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out := &testproc.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tb.Cleanup(func() {
		stdin.Close()
		if err := <-exited; err != nil {
			tb.Errorf("%s: %v\n%s", cmd.Env[2], err, out)
		}
	})
	waitFor(tb, cmd.Env[2]+" to be ready", func() bool {
		select {
		case err := <-exited:
			exited <- err
			tb.Fatalf("%s exited: %v\n%s", cmd.Env[2], err, out)
		default:
		}
		return containsLine(out.String(), "ready")
	})
	return out
}
