package imds

// The accept loop under file-descriptor exhaustion (issue 15 item 4). Linux
// only: the child counts its open descriptors in /proc/self/fd.

import (
	"bufio"
	"context"
	"fmt"
	"github.com/imdsd/imdsd/internal/testutil"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// emfileChildEnv makes the test binary run TestHelperEMFILEServer as the
// child of TestServer_SurvivesEMFILE; its value is the mode.
const emfileChildEnv = "IMDSD_TEST_EMFILE_CHILD"

// emfileSpare is how many connections the child can accept before
// accept(2) fails with EMFILE.
const emfileSpare = 4

// TestServer_SurvivesEMFILE: a server out of file descriptors keeps its
// accept loop and serves again once descriptors free up. guardedListener
// hands accept errors to net/http unwrapped, so EMFILE stays a temporary
// net.Error and http.Server retries it with backoff (5 ms doubling to 1 s)
// instead of returning from Serve, which would end Run. The child runs Run
// with RLIMIT_NOFILE lowered to its open descriptors plus emfileSpare; the
// parent opens more connections than that, waits for the child to log
// EMFILE, then frees descriptors and expects an answer:
//
//   - "clients hang up": the parent closes its connections;
//   - "reaper": the connections stay open and silent, and the reaper
//     closes them at the header limit (shortened to 300 ms in the child).
func TestServer_SurvivesEMFILE(t *testing.T) {
	if os.Getenv(emfileChildEnv) != "" {
		t.Skip("in the child")
	}
	for _, mode := range []string{"clients hang up", "reaper"} {
		t.Run(mode, func(t *testing.T) {
			child := startEMFILEChild(t, mode)
			addr := strings.Fields(child.wait(t, "listening "))[1]

			held := make([]net.Conn, 0, emfileSpare+2)
			for range emfileSpare + 2 {
				// The kernel completes the handshake into the listen
				// backlog whether or not the child can accept.
				held = append(held, dialServer(t, addr))
			}
			child.wait(t, "too many open files")

			if mode == "clients hang up" {
				for _, c := range held {
					c.Close()
				}
			}
			c := dialServer(t, addr)
			c.SetDeadline(time.Now().Add(30 * time.Second)) // a bound, not a timing assertion
			if _, err := io.WriteString(c, "GET "+PathInstanceID+" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer once descriptors were freed: %v\nchild output:\n%s", err, child.output())
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d once descriptors were freed, want 200", resp.StatusCode)
			}
			if mode == "reaper" {
				// The held connections were closed by the server.
				for i, h := range held {
					if _, err := h.Read(make([]byte, 1)); err != io.EOF {
						t.Errorf("held connection %d: read %v, want EOF (closed by the reaper)", i, err)
					}
				}
			}
			if out := child.output(); strings.Contains(out, "run returned") {
				t.Fatalf("Run returned while descriptors were exhausted:\n%s", out)
			}
			child.stop(t)
		})
	}
}

// TestHelperEMFILEServer is the child of TestServer_SurvivesEMFILE: Run on
// a loopback listener with RLIMIT_NOFILE lowered, until SIGTERM.
func TestHelperEMFILEServer(t *testing.T) {
	mode := os.Getenv(emfileChildEnv)
	if mode == "" {
		t.Skip("the child process of TestServer_SurvivesEMFILE")
	}
	// net/http's accept errors reach ErrorLog at debug level.
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New(Options{Source: staticSource(Role{}, ErrNoRole), Region: "eu-west-1", InstanceID: "i-0123456789abcdef0", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if mode == "reaper" {
		s.headerTimeout, s.reaperTick = 300*time.Millisecond, 50*time.Millisecond
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	limit := testutil.LimitFDs(t, emfileSpare)
	fmt.Printf("listening %s with RLIMIT_NOFILE %d\n", ln.Addr(), limit)
	fmt.Printf("run returned: %v\n", s.Run(ctx, ln))
}

// emfileChild is a running TestHelperEMFILEServer whose output lines the
// parent waits on.
type emfileChild struct {
	cmd   *exec.Cmd
	lines chan string // every line, until the child's output ends
	mu    sync.Mutex
	seen  strings.Builder
}

func startEMFILEChild(t *testing.T, mode string) *emfileChild {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperEMFILEServer$", "-test.count=1")
	cmd.Env = append(os.Environ(), emfileChildEnv+"="+mode)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	c := &emfileChild{cmd: cmd, lines: make(chan string, 1<<12)}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			c.mu.Lock()
			c.seen.WriteString(sc.Text() + "\n")
			c.mu.Unlock()
			select {
			case c.lines <- sc.Text():
			default: // nobody waits for this many lines
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		r.Close()
		if t.Failed() {
			t.Logf("child output:\n%s", c.output())
		}
	})
	return c
}

// wait returns the child's first line from now on holding substr; it
// fails the test if the output ends, or after 30 s (a bound for a hung
// child, not a timing assertion).
func (c *emfileChild) wait(t *testing.T, substr string) string {
	t.Helper()
	bound := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("child output ended before a line with %q", substr)
			}
			if strings.Contains(l, substr) {
				return l
			}
		case <-bound:
			t.Fatalf("no line with %q from the child within 30 s", substr)
		}
	}
}

func (c *emfileChild) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen.String()
}

// stop sends SIGTERM and expects Run to return nil and the child to exit 0.
func (c *emfileChild) stop(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if l := c.wait(t, "run returned"); l != "run returned: <nil>" {
		t.Fatalf("got %q, want Run to return nil on SIGTERM", l)
	}
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("child exit: %v, want 0", err)
	}
}
