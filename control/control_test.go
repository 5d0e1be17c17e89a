//go:build !windows

package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// startServer serves handlers on a socket in a temporary directory.
func startServer(tb testing.TB, handlers map[string]Handler) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "rt", SocketName)
	ln, err := Listen(path, ListenOptions{GID: -1})
	if err != nil {
		tb.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewServer(ServerOptions{Handlers: handlers}).Run(ctx, ln) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Run: %v", err)
		}
	})
	return path
}

func TestClient_Call(t *testing.T) {
	path := startServer(t, map[string]Handler{
		CmdUse: func(_ context.Context, raw json.RawMessage) (any, error) {
			var a UseArgs
			if err := json.Unmarshal(raw, &a); err != nil {
				return nil, err
			}
			if a.Role != "admin" {
				return nil, errors.New("role " + a.Role + " is not configured")
			}
			return UseReply{Previous: "dev", Role: a.Role}, nil
		},
	})
	c := Client{Path: path}
	ctx := context.Background()
	tests := map[string]struct {
		cmd     string
		args    any
		want    UseReply
		wantErr string
	}{
		"ok":              {cmd: CmdUse, args: UseArgs{Role: "admin"}, want: UseReply{Previous: "dev", Role: "admin"}},
		"handler error":   {cmd: CmdUse, args: UseArgs{Role: "nope"}, wantErr: "role nope is not configured"},
		"unknown command": {cmd: "frobnicate", wantErr: `unknown command "frobnicate"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got UseReply
			err := c.Call(ctx, tc.cmd, tc.args, &got)
			if tc.wantErr != "" {
				var re *RemoteError
				if !errors.As(err, &re) || re.Msg != tc.wantErr {
					t.Fatalf("got error %v, want remote error %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestListen_Mode(t *testing.T) {
	path := startServer(t, nil)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o660 {
		t.Errorf("socket mode: got %o, want 660", got)
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if got := di.Mode().Perm(); got != 0o750 {
		t.Errorf("directory mode: got %o, want 750", got)
	}
}

func TestListen_Stale(t *testing.T) {
	path := filepath.Join(t.TempDir(), SocketName)
	// A socket file nobody answers on, as a killed daemon leaves it.
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	ln2, err := Listen(path, ListenOptions{GID: -1})
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ln2.Close()
}

func TestListen_Busy(t *testing.T) {
	path := startServer(t, nil)
	_, err := Listen(path, ListenOptions{GID: -1})
	if err == nil || !strings.Contains(err.Error(), "another imdsd is answering") {
		t.Fatalf("got %v, want an error naming the other daemon", err)
	}
}

func TestClient_NotRunning(t *testing.T) {
	err := Client{Path: filepath.Join(t.TempDir(), SocketName)}.Call(context.Background(), CmdStatus, nil, nil)
	if !errors.Is(err, ErrNotRunning) {
		t.Fatalf("got %v, want ErrNotRunning", err)
	}
}

func TestFind(t *testing.T) {
	path := startServer(t, nil)
	missing := filepath.Join(t.TempDir(), SocketName)
	c, err := Find(context.Background(), missing, path)
	if err != nil || c.Path != path {
		t.Fatalf("Find: %q, %v; want %q", c.Path, err, path)
	}
	if _, err := Find(context.Background(), missing); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Find with no daemon: %v, want ErrNotRunning", err)
	}
}

// TestFind_NoAccess runs the client as another user: the socket's 0660
// keeps it out, and the error says how to get in.
func TestFind_NoAccess(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test switches to an unprivileged uid: run it as root (CI does)")
	}
	path := startServer(t, nil)
	// Let others through the directories, so only the socket's own mode
	// decides.
	for d := filepath.Dir(path); d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		_ = os.Chmod(d, 0o755)
	}
	// A copy of the test binary the other user may run.
	bin := filepath.Join(t.TempDir(), "control.test")
	_ = os.Chmod(filepath.Dir(bin), 0o755)
	_ = os.Chmod(filepath.Dir(filepath.Dir(bin)), 0o755)
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestHelperDial$")
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "CONTROL_HELPER_SOCKET="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "permission denied on the control socket "+path) {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
}

// TestHelperDial is TestFind_NoAccess's child process.
func TestHelperDial(t *testing.T) {
	path := os.Getenv("CONTROL_HELPER_SOCKET")
	if path == "" {
		return
	}
	_, err := Find(context.Background(), path)
	if !errors.Is(err, ErrNoAccess) {
		t.Fatalf("got %v, want ErrNoAccess", err)
	}
	fmt.Println(err)
}
