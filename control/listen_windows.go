//go:build windows

package control

import (
	"context"
	"net"

	"github.com/Microsoft/go-winio"
)

// SocketName is the control pipe's name.
const SocketName = `\\.\pipe\imdsd-control`

// DefaultPath returns the control pipe's name.
func DefaultPath() string { return SocketName }

// RuntimeDir is unused on Windows: the control API is a named pipe.
func RuntimeDir() string { return "" }

// ListenOptions are unused on Windows: the pipe's security descriptor
// decides who may connect.
type ListenOptions struct {
	GID int
}

// pipeSDDL lets LocalSystem, Administrators and interactive users connect;
// it is the Windows counterpart of the unix socket's 0660 in the service's
// group.
const pipeSDDL = "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GRGW;;;IU)"

// Listen opens the control pipe.
func Listen(path string, _ ListenOptions) (net.Listener, error) {
	return winio.ListenPipe(path, &winio.PipeConfig{SecurityDescriptor: pipeSDDL})
}

func dial(ctx context.Context, path string) (net.Conn, error) {
	return winio.DialPipeContext(ctx, path)
}

// ClientPaths returns where a client looks for the daemon.
func ClientPaths() []string { return []string{SocketName} }

// checkPeer does not check who serves the pipe on Windows: the pipe's
// security descriptor says who may connect, not who may serve, and
// SECURITY.md says so.
func checkPeer(net.Conn, string) error { return nil }

// socketGroup has no Windows counterpart: access is the pipe's ACL.
func socketGroup(string) string { return "" }
