package control

import (
	"errors"
	"fmt"
)

// ErrNotRunning is returned by [Client.Call] when nothing answers on the
// control socket: the daemon is not running, or runs with another socket.
var ErrNotRunning = errors.New("imdsd is not running (nothing answers on the control socket)")

// ErrNoAccess is returned by [Find] and [Client.Call] when a daemon's socket
// exists but this user may not connect to it. The error is an
// [*AccessError], which names the socket and its group.
var ErrNoAccess = errors.New("not allowed to use imdsd's control socket: ask to be added to the daemon's group (imdsd for the service), then log in again")

// ErrUntrustedPeer is returned by [Find] and [Client.Call] when the process
// answering on the control socket is not one this user may trust with an MFA
// code or take credentials from. The error is a [*PeerError].
var ErrUntrustedPeer = errors.New("control socket served by an untrusted user")

// ErrUnsafeDir is returned by [Listen] when the socket's directory could be
// controlled by another user. The error is a [*DirError].
var ErrUnsafeDir = errors.New("unsafe control socket directory")

// AccessError is a control socket this user may not open (EACCES or EPERM).
// It matches [ErrNoAccess] and fs.ErrPermission with errors.Is.
type AccessError struct {
	Path string
	// Group owns the socket (or the directory that blocked the way): a
	// name, a numeric gid when it has none, or "" when it could not be
	// looked up.
	Group string
	Err   error
}

func (e *AccessError) Error() string {
	if e.Group == "" {
		return fmt.Sprintf("permission denied on the control socket %s: ask to be added to the daemon's group (imdsd for the service), then log in again", e.Path)
	}
	return fmt.Sprintf("permission denied on the control socket %s: add yourself to group %s (sudo usermod -aG %s $USER), then log in again", e.Path, e.Group, e.Group)
}

// Unwrap returns ErrNoAccess and the system error (which matches
// fs.ErrPermission).
func (e *AccessError) Unwrap() []error { return []error{ErrNoAccess, e.Err} }

// PeerError is a control socket answered by a process of another user: the
// socket is not the daemon this user meant to reach, and nothing is sent to
// it. It matches [ErrUntrustedPeer] with errors.Is.
type PeerError struct {
	Path string
	UID  int // the uid of the process serving Path
}

func (e *PeerError) Error() string {
	return fmt.Sprintf("the control socket %s is served by uid %d, not by you or root: refusing (another user may have made its directory first: see SECURITY.md)", e.Path, e.UID)
}

// Unwrap returns ErrUntrustedPeer.
func (e *PeerError) Unwrap() error { return ErrUntrustedPeer }

// DirError is a control socket directory [Listen] refuses to use: a
// symbolic link, another user's, or writable by others. Fix says what to do.
// It matches [ErrUnsafeDir] with errors.Is.
type DirError struct {
	Path   string
	Reason string
	Fix    string
}

func (e *DirError) Error() string {
	return fmt.Sprintf("control socket directory %s: %s: refusing to use it; %s", e.Path, e.Reason, e.Fix)
}

// Unwrap returns ErrUnsafeDir.
func (e *DirError) Unwrap() error { return ErrUnsafeDir }
