package config

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
)

// Helpers for the tests that play a hostile local user: a real user made
// with useradd for one test and removed after it, and commands run as it.

// testUser is a local user made for one test.
type testUser struct {
	name     string
	uid, gid int
}

var userSeq atomic.Int32

// needRoot fails the test unless it runs as root: it cannot be skipped,
// because it is what backs SECURITY.md's claims about other users.
func needRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Fatal("this test makes users and runs processes as them: run it as root (CI does)")
	}
}

// addUser makes a system user with a group of its own, removed when the
// test ends.
func addUser(tb testing.TB) testUser {
	tb.Helper()
	needRoot(tb)
	name := fmt.Sprintf("imdsdc%d-%d", os.Getpid(), userSeq.Add(1))
	if out, err := exec.Command("useradd", "-r", "-M", "-U", "-d", "/nonexistent", "-s", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
		tb.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	tb.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			tb.Errorf("userdel %s: %v\n%s", name, err, out)
		}
		_ = exec.Command("groupdel", name).Run() // gone with the user on most systems
	})
	u, err := user.Lookup(name)
	if err != nil {
		tb.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return testUser{name: name, uid: uid, gid: gid}
}

// as runs a shell script as u, with its umask 077, and fails the test if
// the script fails: what the hostile user does, they do as themselves.
func (u testUser) as(tb testing.TB, script string) {
	tb.Helper()
	cmd := exec.Command("/bin/sh", "-c", "umask 077 && "+script)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid), Groups: []uint32{}}}
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("as %s (uid %d): %s: %v\n%s", u.name, u.uid, script, err, out)
	}
}
