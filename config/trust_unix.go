//go:build unix

package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// The config file decides which role every local process gets and where
// source credentials are sent, so whoever can choose its contents owns
// the daemon (issue 15 item 5). Who can choose them is not only who can
// write the file: it is also whoever can rename another file over it, that
// is whoever can write a directory on the way to it, and whoever owns a
// symbolic link on the way. openConfig checks all of them, the way
// OpenSSH's StrictModes does (auth_secure_path in auth.c, called for
// authorized_keys): the file and every directory up to / must be owned by
// root or by the daemon's own user and not be writable by group or
// others; the path is resolved first and the real path is what is
// checked.
//
// We depart from auth_secure_path on one point, on purpose: it refuses a
// sticky directory such as /tmp (mode 1777), we allow one owned by root
// or the daemon's user on the way to the file. In a sticky directory
// others may add entries but may not rename or remove entries they do not
// own (sticky(7), unlink(2)), and the entry below it is checked in turn:
// an entry another user made there is theirs and is refused. Two things a
// sticky directory does let others do are still refused: a symbolic link
// they made there (every link followed must be root's or the daemon's
// user's, as fs.protected_symlinks insists), and a hard link they made
// there to a file of root's, which is why the config file itself must not
// sit directly in a directory others can write.

// maxSymlinks bounds the symbolic links followed, as the kernel's ELOOP.
const maxSymlinks = 40

// openConfig checks that the config file at path can only have been
// written by root or the daemon's user (trustPath), then opens it without
// blocking (a FIFO swapped in after the check must not wedge the daemon)
// and checks that what it opened is the file it checked.
func openConfig(path string) (*os.File, error) {
	real, fi, err := trustPath(path, os.Geteuid())
	if err != nil {
		return nil, err
	}
	fd, err := syscall.Open(real, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: real, Err: err}
	}
	var st syscall.Stat_t
	err = syscall.Fstat(fd, &st)
	if err == nil && st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		err = fmt.Errorf("%s was replaced while it was being checked, %w: try again", real, errNotRegular)
	}
	if err == nil {
		// Reads of a regular file never block; clear the flag all the
		// same, so the descriptor is an ordinary one.
		err = syscall.SetNonblock(fd, false)
	}
	if err != nil {
		syscall.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), real)
	got, err := f.Stat()
	if err == nil && !os.SameFile(fi, got) {
		err = fmt.Errorf("%s was replaced while it was being checked: try again", real)
	}
	if err == nil {
		err = checkConfigMode(real, got, os.Geteuid())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// trustPath resolves path one component at a time, as the kernel would,
// checking every directory it passes through, every symbolic link it
// follows and the file it ends at. It returns the real path of the file
// and the file's Lstat.
func trustPath(path string, euid int) (string, fs.FileInfo, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", nil, err
	}
	root, err := os.Lstat("/")
	if err != nil {
		return "", nil, err
	}
	if err := checkDir("/", root, euid); err != nil {
		return "", nil, err
	}
	cur, curInfo := "/", root
	rest := splitPath(abs)
	links := 0
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			// Every directory above cur was checked on the way down.
			cur = filepath.Dir(cur)
			if curInfo, err = os.Lstat(cur); err != nil {
				return "", nil, openError(path, err)
			}
			continue
		}
		p := filepath.Join(cur, name)
		fi, err := os.Lstat(p)
		if err != nil {
			return "", nil, openError(path, err)
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			if links++; links > maxSymlinks {
				return "", nil, &fs.PathError{Op: "resolve", Path: path, Err: syscall.ELOOP}
			}
			if !trustedOwner(fi, euid) {
				return "", nil, untrusted("symbolic link", p, fi, errConfigOwner, euid,
					"its owner can point it at any file: remove it, or run chown -h "+chownName(euid)+" "+p)
			}
			target, err := os.Readlink(p)
			if err != nil {
				return "", nil, openError(path, err)
			}
			if filepath.IsAbs(target) {
				cur, curInfo = "/", root
			}
			rest = append(splitPath(target), rest...)
		case fi.IsDir():
			if err := checkDir(p, fi, euid); err != nil {
				return "", nil, err
			}
			cur, curInfo = p, fi
		case len(rest) > 0:
			return "", nil, &fs.PathError{Op: "resolve", Path: p, Err: syscall.ENOTDIR}
		default:
			if err := checkConfigMode(p, fi, euid); err != nil {
				return "", nil, err
			}
			if others(curInfo) {
				return "", nil, fmt.Errorf("%s is directly in %s, where others can create files (mode %s): "+
					"they could have put it there as a hard link; move it into a directory of its own (mkdir -m 0700)",
					p, cur, modeText(curInfo))
			}
			return p, fi, nil
		}
	}
	return "", nil, fmt.Errorf("%s is a directory, %w: give the path of the config file", cur, errNotRegular)
}

// checkDir refuses a directory another user owns or can write: either
// could rename a file of their own over the config file. A sticky
// directory of a trusted owner is allowed (see the comment at the top).
func checkDir(p string, fi fs.FileInfo, euid int) error {
	if !trustedOwner(fi, euid) {
		return untrusted("directory", p, fi, errConfigOwner, euid,
			"its owner could replace the config file: run chown "+chownName(euid)+" "+p+", or move the config file out of it")
	}
	if fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0 {
		return untrusted("directory", p, fi, errConfigWritable, euid,
			"others could replace the config file: run chmod go-w "+p+", or move the config file out of it")
	}
	return nil
}

// openError is the error of a path that cannot be resolved (a missing
// file, a directory the daemon may not search), as open(2) would give it
// for the path asked for: "open PATH: no such file or directory".
func openError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &fs.PathError{Op: "open", Path: path, Err: err}
}

// others reports whether users other than the owner may create entries
// in the directory fi.
func others(fi fs.FileInfo) bool { return fi.Mode().Perm()&0o022 != 0 }

func splitPath(p string) []string { return strings.Split(p, "/") }
