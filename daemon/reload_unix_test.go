//go:build unix

package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/imdsd/imdsd/config"
)

// TestReload_ConfigBecameFIFO (issue 15 item 8): a daemon whose config
// file was replaced by a FIFO refuses the reload at once, says why, keeps
// its roles, and status answers. Before, the reload blocked on the FIFO
// holding the lock, and status, use, SIGHUP and SIGTERM with it.
func TestReload_ConfigBecameFIFO(t *testing.T) {
	start := reloadConfig(t)
	path := filepath.Join(t.TempDir(), "imdsd.yaml")
	if err := os.WriteFile(path, []byte("role_arn: arn:aws:iam::123456789012:role/dev\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := newReloadDaemon(t, start, func() (config.Config, error) {
		c := start
		return c, config.LoadFile(path, &c)
	})
	set := o.set.Load()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // a read blocked on it (the bug) ends
		if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	err := within(t, "reload of a FIFO", func() error { _, err := o.applyReload(context.Background()); return err })
	if err == nil || !strings.Contains(err.Error(), path+" is a named pipe (FIFO), not a regular file") {
		t.Fatalf("reload of a FIFO: got %v, want it refused as a named pipe", err)
	}
	st := within(t, "status after it", o.status)
	if !strings.Contains(st.ReloadError, "named pipe") || o.set.Load() != set {
		t.Errorf("after the refused reload: reload error %q, roles replaced %v", st.ReloadError, o.set.Load() != set)
	}
}
