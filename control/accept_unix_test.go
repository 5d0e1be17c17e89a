//go:build linux || darwin

package control

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/imdsd/imdsd/internal/testutil"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServer_SurvivesEMFILE: running out of file descriptors used to end
// Run, and with it the daemon (issue 15 item 4). A server whose process may
// hold only two connections is sent eight at once: it must log the failed
// accepts, keep going, and answer all eight once the first ones are done,
// then a ninth.
func TestServer_SurvivesEMFILE(t *testing.T) {
	path := filepath.Join(t.TempDir(), SocketName)
	stdout, stderr := testutil.StartChild(t, "TestHelperLowFDs", "CONTROL_LOWFD_SOCKET="+path)
	waitFor(t, "the server to be ready", func() bool { return strings.Contains(stdout.String(), "ready") })

	conns := make([]net.Conn, 8)
	for i := range conns {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		defer c.Close()
		conns[i] = c
	}
	waitFor(t, "an accept to fail with EMFILE", func() bool {
		return strings.Contains(stderr.String()+stdout.String(), "too many open files")
	})
	ask := func(c net.Conn) error {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, `{"cmd":"status"}`+"\n"); err != nil {
			return err
		}
		var resp Response
		if err := json.NewDecoder(c).Decode(&resp); err != nil {
			return err
		}
		if !resp.OK {
			return fmt.Errorf("reply %+v", resp)
		}
		return nil
	}
	for i, c := range conns {
		if err := ask(c); err != nil {
			t.Fatalf("connection %d of %d: %v\nserver stdout:\n%s\nserver stderr:\n%s", i+1, len(conns), err, stdout, stderr)
		}
		c.Close()
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := ask(c); err != nil {
		t.Fatalf("a new connection after the storm: %v", err)
	}
}

// TestHelperLowFDs is TestServer_SurvivesEMFILE's server: it serves the
// socket with RLIMIT_NOFILE two above the descriptors it holds, until its
// stdin closes.
func TestHelperLowFDs(t *testing.T) {
	path := os.Getenv("CONTROL_LOWFD_SOCKET")
	if path == "" {
		return
	}
	ln, err := Listen(path, ListenOptions{GID: -1})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	srv := NewServer(ServerOptions{Logger: log, Handlers: map[string]Handler{
		CmdStatus: func(context.Context, json.RawMessage) (any, error) { return Status{Version: "test"}, nil },
	}})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	testutil.LimitFDs(t, 2)
	fmt.Println("ready")
	if err := srv.Run(ctx, ln); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// waitFor is testutil.WaitFor with this package's bound, which only keeps
// a broken build from hanging the run; it asserts no speed.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	testutil.WaitFor(tb, 10*time.Second, cond, what)
}
