//go:build !windows

package control

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
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
