//go:build unix

package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os/user"
	"strconv"
	"syscall"
)

// errConfigWritable: a config file others can write lets them choose the
// role, the STS endpoint (where source credentials are sent) or the
// allowed users of a daemon that may run as root; so does a directory
// others can write, where they can rename a file of theirs over it.
var errConfigWritable = errors.New("writable by group or others")

// errConfigOwner: a config file, a directory above it or a symbolic link
// on the way to it that another user owns lets that user choose what the
// daemon reads, whatever its mode says: an owner can chmod.
var errConfigOwner = errors.New("owned by another user")

// errNotRegular: a FIFO at the config path blocks the daemon's read for
// as long as nobody writes to it (issue 15 item 8); a device or a socket
// is not a config either.
var errNotRegular = errors.New("not a regular file")

// checkConfigMode refuses a config file that is not a regular file, that
// a user other than root and euid owns, or that the group or others can
// write.
func checkConfigMode(p string, fi fs.FileInfo, euid int) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is %s, %w: give the path of a regular file", p, kindText(fi.Mode()), errNotRegular)
	}
	if !trustedOwner(fi, euid) {
		return untrusted("file", p, fi, errConfigOwner, euid,
			"its owner chooses the role: check what it says, then run chown "+chownName(euid)+" "+p)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return untrusted("file", p, fi, errConfigWritable, euid, "run chmod go-w "+p+" (0600 or 0640)")
	}
	return nil
}

// untrusted is the error for a path at fault: what it is, its owner and
// mode, why it is refused, and the fix. A writable one reads "file P
// (owner root): mode 0660 is writable by group or others: run chmod ...",
// as before issue 15; one of another user's, "file P is owned by another
// user: uid N (name), mode 0600; only root may own it: ...".
func untrusted(what, p string, fi fs.FileInfo, why error, euid int, fix string) error {
	if errors.Is(why, errConfigOwner) {
		return fmt.Errorf("%s %s is %w: %s, mode %s; only %s may own it: %s",
			what, p, why, ownerText(uidOf(fi)), modeText(fi), trustedText(euid), fix)
	}
	return fmt.Errorf("%s %s (owner %s): mode %s is %w: %s", what, p, ownerText(uidOf(fi)), modeText(fi), why, fix)
}

// trustedOwner reports whether fi is owned by root or by euid, the
// daemon's own user: nobody else may choose what the daemon reads.
func trustedOwner(fi fs.FileInfo, euid int) bool {
	uid := uidOf(fi)
	return uid == 0 || uid == euid
}

func uidOf(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

// trustedText names who may own the config and the directories above it.
func trustedText(euid int) string {
	if euid == 0 {
		return "root"
	}
	return "root or " + ownerText(euid) + " (the daemon's user)"
}

// ownerText is "root", "uid N (name)" or "uid N".
func ownerText(uid int) string {
	if uid == 0 {
		return "root"
	}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return "uid " + strconv.Itoa(uid) + " (" + u.Username + ")"
	}
	return "uid " + strconv.Itoa(uid)
}

// chownName is the owner a fix gives: root for a root daemon, else the
// daemon's user by name (or number).
func chownName(euid int) string {
	if euid == 0 {
		return "root"
	}
	if u, err := user.LookupId(strconv.Itoa(euid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(euid)
}

func modeText(fi fs.FileInfo) string {
	if fi.Mode()&fs.ModeSticky != 0 {
		return fmt.Sprintf("1%03o", fi.Mode().Perm())
	}
	return fmt.Sprintf("%04o", fi.Mode().Perm())
}

func kindText(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	}
	return "not a file (" + m.String() + ")"
}
