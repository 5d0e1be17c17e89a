//go:build !windows

package control

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// SocketName is the control socket's file name in the runtime directory.
const SocketName = "control.sock"

// DefaultPath returns where the daemon puts its control socket: the
// directory systemd made for the service ($RUNTIME_DIRECTORY), the system
// runtime directory (/run/imdsd) when running as root, the user's
// ($XDG_RUNTIME_DIR/imdsd, else a per-user directory under the temporary
// directory) otherwise.
func DefaultPath() string {
	if d := os.Getenv("RUNTIME_DIRECTORY"); d != "" {
		return filepath.Join(filepath.SplitList(d)[0], SocketName)
	}
	return filepath.Join(RuntimeDir(), SocketName)
}

// ClientPaths returns where a client looks for the daemon, in order: this
// user's runtime directory, then the system service's.
func ClientPaths() []string {
	paths := []string{DefaultPath()}
	if sys := filepath.Join(systemRuntimeDir(), SocketName); sys != paths[0] {
		paths = append(paths, sys)
	}
	return paths
}

func systemRuntimeDir() string {
	if fi, err := os.Stat("/run"); err == nil && fi.IsDir() {
		return "/run/imdsd"
	}
	return "/var/run/imdsd"
}

// RuntimeDir returns imdsd's runtime directory for this user.
func RuntimeDir() string {
	if os.Geteuid() == 0 {
		return systemRuntimeDir()
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "imdsd")
	}
	return filepath.Join(os.TempDir(), "imdsd-"+strconv.Itoa(os.Geteuid()))
}

// ListenOptions say who may use the socket.
type ListenOptions struct {
	// GID is the group the socket (and a directory Listen creates) is
	// given; -1 keeps the daemon's own group.
	GID int
}

// Listen opens the control socket at path, mode 0660. Its directory is made
// if missing, or checked if present (see prepareDir): this user's default
// directory ([RuntimeDir]) must be the daemon user's own and is 0700; any
// other must belong to the daemon's user or root, is made 0750, and may not
// be writable by group or others. A directory that fails is a [*DirError].
// A stale socket left by a daemon that died is replaced; one that still
// answers is an error, so two daemons never fight over it.
func Listen(path string, opts ListenOptions) (net.Listener, error) {
	dir := filepath.Dir(path)
	private := os.Geteuid() != 0 && filepath.Clean(dir) == filepath.Clean(RuntimeDir())
	if err := prepareDir(dir, private, opts.GID); err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("control socket %s: exists and is not a socket", path)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, derr := dial(ctx, path)
		cancel()
		if derr == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s: another imdsd is answering on it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("control socket %s: remove stale socket: %w", path, err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	// In a directory Listen made (0750, or 0700), nobody outside the
	// group reaches the socket in the instant before its own mode is set.
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if opts.GID >= 0 {
		if err := os.Chown(path, -1, opts.GID); err != nil {
			ln.Close()
			return nil, fmt.Errorf("control socket %s: %w", path, err)
		}
	}
	return ln, nil
}

func dial(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", path)
}
