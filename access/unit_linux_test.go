package access

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestUnitFinder_OwnSocket: the finder answers for a real loopback socket
// of this process, as its cgroup file says.
func TestUnitFinder_OwnSocket(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	remote := netip.MustParseAddrPort(c.LocalAddr().String())
	local := netip.MustParseAddrPort(c.RemoteAddr().String())
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := unitOrNone(UnitOfProcCgroup(f))
	f.Close()
	got, err := NewUnitFinder().Unit(remote, local)
	if err != nil || got != want {
		t.Errorf("Unit = %q, %v; want %q (this process's own unit)", got, err, want)
	}
}

// TestWalkCgroups: ids are directory inodes, paths are below the root.
func TestWalkCgroups(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "system.slice", "billing.service"), 0o755); err != nil {
		t.Fatal(err)
	}
	byID, err := walkCgroups(root)
	if err != nil {
		t.Fatal(err)
	}
	found := ""
	for _, p := range byID {
		if strings.HasSuffix(p, "billing.service") {
			found = p
		}
	}
	if found != "/system.slice/billing.service" || byID[inodeOf(t, root)] != "/" {
		t.Errorf("walk = %v, want /system.slice/billing.service and the root as /", byID)
	}
	// A cgroup made after the last walk is found: an unknown id walks again.
	uf := &UnitFinder{root: root}
	if _, err := uf.path(inodeOf(t, filepath.Join(root, "system.slice"))); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "system.slice", "late.service"), 0o755); err != nil {
		t.Fatal(err)
	}
	late := inodeOf(t, filepath.Join(root, "system.slice", "late.service"))
	if p, err := uf.path(late); err != nil || p != "/system.slice/late.service" {
		t.Errorf("a unit started after the last walk: %q, %v; want /system.slice/late.service", p, err)
	}
	if _, err := uf.path(1 << 60); err == nil {
		t.Error("an id of no cgroup was found")
	}
}

func TestCgroup2Mount(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mountinfo")
	data := "24 30 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n" +
		"25 24 0:23 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw\n"
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := cgroup2Mount(p); got != "/sys/fs/cgroup/unified" {
		t.Errorf("got %q, want /sys/fs/cgroup/unified", got)
	}
}

func inodeOf(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}
