//go:build unix

package config

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// notRegularWait bounds how long a refusal may take: it must come at once,
// and before the fix a FIFO blocked the read for as long as nobody wrote
// to it.
const notRegularWait = 5 * time.Second

// TestLoadFile_RefusesNotRegular (issue 15 item 8): a FIFO, a device, a
// socket or a directory at the config path is refused at once, by name,
// by LoadFile and by FileNodes (config check): a FIFO with no writer used
// to block the daemon's reload, holding its lock, until someone wrote to
// it.
func TestLoadFile_RefusesNotRegular(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string) string
		kind  string
	}{
		{"FIFO", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "imdsd.yaml")
			mustDo(t, syscall.Mkfifo(p, 0o600))
			unblockFIFO(t, p)
			return p
		}, "a named pipe (FIFO)"},
		{"symbolic link to a FIFO", func(t *testing.T, dir string) string {
			fifo := filepath.Join(dir, "fifo")
			mustDo(t, syscall.Mkfifo(fifo, 0o600))
			unblockFIFO(t, fifo)
			p := filepath.Join(dir, "imdsd.yaml")
			mustDo(t, os.Symlink(fifo, p))
			return p
		}, "a named pipe (FIFO)"},
		{"device", func(t *testing.T, dir string) string { return "/dev/null" }, "a device"},
		{"socket", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "imdsd.yaml")
			ln, err := net.Listen("unix", p)
			mustDo(t, err)
			t.Cleanup(func() { ln.Close() })
			return p
		}, "a socket"},
		{"directory", func(t *testing.T, dir string) string { return dir }, "a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.setup(t, t.TempDir())
			for _, read := range []struct {
				name string
				read func() error
			}{
				{"LoadFile", func() error { c := Default(); return LoadFile(p, &c) }},
				{"FileNodes", func() error { _, err := FileNodes(p); return err }},
			} {
				err := within(t, read.name, read.read)
				if !errors.Is(err, errNotRegular) {
					t.Fatalf("%s(%s): %v, want errNotRegular", read.name, p, err)
				}
				if msg := err.Error(); !strings.Contains(msg, tc.kind) || !strings.Contains(msg, "regular file") {
					t.Errorf("%s: error %q does not say it is %s, not a regular file", read.name, msg, tc.kind)
				}
			}
		})
	}
}

// within runs f and fails the test if it has not returned within
// notRegularWait.
func within(t *testing.T, name string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	timer := time.NewTimer(notRegularWait)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		t.Fatalf("%s still blocked after %s", name, notRegularWait)
		return nil
	}
}

// unblockFIFO opens the FIFO for writing when the test ends, so that a
// read that blocked on it (the bug) returns and the test binary can exit.
func unblockFIFO(t *testing.T, p string) {
	t.Cleanup(func() {
		if f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
