package testutil

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

// Real local users for the tests that play a hostile neighbour: made with
// useradd for one test and removed after it.

// User is a local user made for one test.
type User struct {
	Name     string
	UID, GID int
}

var userSeq atomic.Int32

// NeedRoot fails the test unless it runs as root: it cannot be skipped,
// because it is what backs SECURITY.md's claims about other users.
func NeedRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Fatal("this test makes users and runs processes as them: run it as root (CI does)")
	}
}

// UniqueName is a user or group name no other test run uses.
func UniqueName() string { return fmt.Sprintf("imdsdt%d-%d", os.Getpid(), userSeq.Add(1)) }

// AddUser makes a system user with a group of its own, removed when the
// test ends.
func AddUser(tb testing.TB) User {
	tb.Helper()
	NeedRoot(tb)
	name := UniqueName()
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
	return User{Name: name, UID: uid, GID: gid}
}

// AddGroup makes a system group, removed when the test ends.
func AddGroup(tb testing.TB) (string, int) {
	tb.Helper()
	NeedRoot(tb)
	name := UniqueName()
	if out, err := exec.Command("groupadd", "-r", name).CombinedOutput(); err != nil {
		tb.Fatalf("groupadd %s: %v\n%s", name, err, out)
	}
	tb.Cleanup(func() { _ = exec.Command("groupdel", name).Run() })
	g, err := user.LookupGroup(name)
	if err != nil {
		tb.Fatal(err)
	}
	gid, _ := strconv.Atoi(g.Gid)
	return name, gid
}

// Cred is the process attribute that runs a command as u, with u's own
// group and extraGroups only.
func (u User) Cred(extraGroups ...int) *syscall.SysProcAttr {
	groups := []uint32{}
	for _, g := range extraGroups {
		groups = append(groups, uint32(g))
	}
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: groups}}
}
