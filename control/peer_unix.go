//go:build !windows

package control

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
)

// checkPeer refuses a control socket served by a process this user must not
// trust. A socket under a directory another user made first (a squatted
// $TMPDIR/imdsd-UID, issue 15 item 3) would otherwise receive `imdsd mfa`
// codes and answer `imdsd creds` with credentials of that user's choosing.
func checkPeer(conn net.Conn, path string) error {
	uid, err := peerUID(conn)
	if err != nil {
		return fmt.Errorf("%w: %s: cannot tell which user serves it: %v", ErrUntrustedPeer, path, err)
	}
	if uid < 0 {
		// This OS cannot say; the directory checks of Listen are all
		// there is.
		return nil
	}
	if !peerTrusted(path, uid, os.Geteuid()) {
		return &PeerError{Path: path, UID: uid}
	}
	return nil
}

// peerTrusted reports whether a server running as uid may answer on path for
// a client running as self: itself, root, or the owner of a directory that
// only root could have made. The last is the system service, whose
// /run/imdsd systemd makes for User=imdsd. A directory in a place anyone may
// write (/tmp) proves nothing about its owner, so there only self and root
// count.
func peerTrusted(path string, uid, self int) bool {
	if uid == self || uid == 0 {
		return true
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	dir := filepath.Dir(abs)
	owner, ok := statOwner(os.Lstat(dir))
	if !ok || owner.uid != uid || owner.mode&0o022 != 0 || !owner.isDir {
		return false
	}
	parent, ok := statOwner(os.Stat(filepath.Dir(dir)))
	return ok && parent.isDir && parent.uid == 0 && parent.mode&0o022 == 0
}

type fileOwner struct {
	uid, gid int
	mode     os.FileMode
	isDir    bool
	symlink  bool
}

// statOwner takes the result of os.Stat or os.Lstat.
func statOwner(fi os.FileInfo, err error) (fileOwner, bool) {
	if err != nil {
		return fileOwner{}, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileOwner{}, false
	}
	return fileOwner{
		uid:     int(st.Uid),
		gid:     int(st.Gid),
		mode:    fi.Mode().Perm(),
		isDir:   fi.IsDir(),
		symlink: fi.Mode()&os.ModeSymlink != 0,
	}, true
}
