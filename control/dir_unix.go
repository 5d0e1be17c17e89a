//go:build !windows

package control

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
)

// prepareDir makes the socket's directory, or checks the one already there,
// as ssh-agent and tmux do (issue 15 item 3). Another user who makes
// $TMPDIR/imdsd-UID first would otherwise get the socket put in a directory
// they control: they could swap it for their own and receive `imdsd mfa`
// codes or answer `imdsd creds`.
//
// Every directory must be a real directory (not a symbolic link), belong to
// the daemon's user (or root, for a system directory), and not be writable
// by group or others. A private directory (this user's default, see
// [RuntimeDir]) must belong to the daemon's user and is made 0700; a shared
// one is made 0750 and may be given the group gid.
func prepareDir(dir string, private bool, gid int) error {
	if private {
		// Not MkdirAll: the parent is $TMPDIR or $XDG_RUNTIME_DIR, which
		// must exist; this makes only the directory that is checked below.
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("control socket directory: %w", err)
		}
	} else if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("control socket directory: %w", err)
	}
	o, ok := statOwner(os.Lstat(dir))
	if !ok {
		_, err := os.Lstat(dir)
		return fmt.Errorf("control socket directory: %w", err)
	}
	euid := os.Geteuid()
	switch {
	case o.symlink:
		target, _ := os.Readlink(dir)
		return &DirError{Path: dir, Reason: fmt.Sprintf("is a symbolic link (to %s)", target), Fix: removeFix(dir, private)}
	case !o.isDir:
		return &DirError{Path: dir, Reason: "is not a directory", Fix: removeFix(dir, private)}
	case o.uid != euid && (private || o.uid != 0):
		reason := fmt.Sprintf("belongs to %s, not to you (uid %d)", userName(o.uid), euid)
		if private {
			return &DirError{Path: dir, Reason: reason, Fix: "another user made it first, which lets them read your MFA codes and hand you credentials of their choosing: have it removed (sudo rm -r " + dir + "), or set XDG_RUNTIME_DIR, or give --control-socket a directory of your own"}
		}
		return &DirError{Path: dir, Reason: reason, Fix: fmt.Sprintf("make it the daemon's (chown %d %s) or give --control-socket another directory", euid, dir)}
	case o.mode&0o022 != 0:
		reason := fmt.Sprintf("its mode %04o lets other users write in it", o.mode)
		if private {
			return &DirError{Path: dir, Reason: reason, Fix: removeFix(dir, private)}
		}
		return &DirError{Path: dir, Reason: reason, Fix: "chmod go-w " + dir}
	}
	if private && o.mode&0o077 != 0 {
		// Only this user could write in it (checked above), so nothing
		// foreign can be inside; an older imdsd made it 0750.
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("control socket directory: %w", err)
		}
	}
	if gid >= 0 {
		if err := os.Chown(dir, -1, gid); err != nil && !errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("control socket directory: %w", err)
		}
	}
	return nil
}

func removeFix(dir string, private bool) string {
	if private {
		return "remove it (sudo rm -r " + dir + " if it is not yours) and start imdsd again, or give --control-socket a directory of your own"
	}
	return "remove it or give --control-socket another directory"
}

// userName is "uid N (name)", or "uid N" for a uid with no name.
func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return fmt.Sprintf("uid %d (%s)", uid, u.Username)
	}
	return "uid " + strconv.Itoa(uid)
}
