package peercred

import (
	"bufio"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// accept dials ln from a socket made by dial and returns the server side's
// view: remote and local address.
func serverView(t *testing.T, ln net.Listener) (remote, local netip.AddrPort) {
	t.Helper()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.RemoteAddr().(*net.TCPAddr).AddrPort(), c.LocalAddr().(*net.TCPAddr).AddrPort()
}

func TestUID_OwnConnection(t *testing.T) {
	for _, tc := range []struct{ network, addr string }{
		{"tcp4", "127.0.0.1:0"},
		{"tcp6", "[::1]:0"},
		{"tcp", "127.0.0.2:0"},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			ln, err := net.Listen(tc.network, tc.addr)
			if err != nil {
				t.Fatalf("listen %s: %v (the test needs IPv4 and IPv6 loopback)", tc.addr, err)
			}
			defer ln.Close()
			c, err := net.Dial(tc.network, ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			remote, local := serverView(t, ln)
			uid, err := UID(remote, local)
			if err != nil {
				t.Fatalf("UID(%s, %s): %v", remote, local, err)
			}
			if uid != os.Getuid() {
				t.Fatalf("UID = %d, want %d (this process)", uid, os.Getuid())
			}
			// The server's own socket is never taken for the client's:
			// swapping the addresses names the server side.
			if uid2, err := UID(local, remote); err != nil || uid2 != os.Getuid() {
				t.Fatalf("UID of the server side = %d, %v", uid2, err)
			}
		})
	}
}

// TestUID_OtherUser: a connection made by another user (nobody) reports
// that user's uid, not the daemon's. Creating it needs root, as CI runs.
func TestUID_OtherUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("this test starts a client as uid 65534 and needs root: run it as root (scripts/test.sh does)")
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash not found: install bash")
	}
	cmd := exec.Command(bash, "-c", "exec 3<>/dev/tcp/127.0.0.1/"+port+" && echo connected && read -r _")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "connected\n" {
		t.Fatalf("client as nobody did not connect: %q", line)
	}
	remote, local := serverView(t, ln)
	uid, err := UID(remote, local)
	if err != nil || uid != 65534 {
		t.Fatalf("UID of nobody's connection = %d, %v; want 65534", uid, err)
	}
}

func TestUID_NoSuchSocket(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close()
	_, err = UID(netip.MustParseAddrPort("127.0.0.1:1"), addr)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("UID of a connection that does not exist: %v, want ErrNotFound", err)
	}
}

func BenchmarkUID(b *testing.B) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	sc, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer sc.Close()
	remote, local := sc.RemoteAddr().(*net.TCPAddr).AddrPort(), sc.LocalAddr().(*net.TCPAddr).AddrPort()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := UID(remote, local); err != nil {
			b.Fatal(err)
		}
	}
}

// TestProcUID_MatchesDiag: the /proc/net/tcp{,6} fallback finds the same
// uid as inet_diag, for IPv4 and IPv6, and nothing for a missing socket.
func TestProcUID_MatchesDiag(t *testing.T) {
	for _, tc := range []struct{ network, addr string }{{"tcp4", "127.0.0.1:0"}, {"tcp6", "[::1]:0"}} {
		ln, err := net.Listen(tc.network, tc.addr)
		if err != nil {
			t.Fatalf("listen %s: %v", tc.addr, err)
		}
		c, err := net.Dial(tc.network, ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		remote, local := serverView(t, ln)
		got, err := procUID(remote, local)
		want, derr := diagOwner(remote, local)
		if err != nil || derr != nil || got != want.UID {
			t.Errorf("%s: procUID = %d, %v; diagOwner = %+v, %v", tc.network, got, err, want, derr)
		}
		c.Close()
		ln.Close()
	}
	if _, err := procUID(netip.MustParseAddrPort("127.0.0.1:1"), netip.MustParseAddrPort("127.0.0.1:2")); !errors.Is(err, ErrNotFound) {
		t.Errorf("procUID of no socket: %v, want ErrNotFound", err)
	}
}

// TestParseProcAddr: addresses as a little-endian kernel (amd64, arm64)
// prints them.
func TestParseProcAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:1F90":                         "127.0.0.1:8080",
		"00000000000000000000000001000000:0050": "[::1]:80",
		"0000000000000000FFFF00000100007F:2426": "[::ffff:127.0.0.1]:9254",
	} {
		got, err := parseProcAddr(in)
		if err != nil || got.String() != want {
			t.Errorf("parseProcAddr(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
}

// TestSocketProcess: the inode of a loopback client socket leads to the
// process that holds it: this test's own.
func TestSocketProcess(t *testing.T) {
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
	remote, local := serverView(t, ln)
	o, err := Socket(remote, local)
	if err != nil {
		t.Fatalf("Socket: %v", err)
	}
	if o.UID != os.Getuid() || o.Inode == 0 {
		t.Errorf("Socket = %+v, want uid %d and an inode", o, os.Getuid())
	}
	// The socket's cgroup is this process's cgroup v2 directory.
	if cg, ok := ownCgroupDir(t); ok {
		var st syscall.Stat_t
		if err := syscall.Stat(cg, &st); err != nil {
			t.Fatal(err)
		}
		if !o.HasCgroup || o.CgroupID != st.Ino {
			t.Errorf("Socket cgroup = %d (%v), want %d, the inode of %s", o.CgroupID, o.HasCgroup, st.Ino, cg)
		}
	}
	pid, err := Process(o.Inode)
	if err != nil || pid != os.Getpid() {
		t.Errorf("Process(%d) = %d, %v; want this process, %d", o.Inode, pid, err, os.Getpid())
	}
	if _, err := Process(1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Process of no socket: %v, want ErrNotFound", err)
	}
}

// ownCgroupDir returns this process's cgroup v2 directory, from
// /proc/self/cgroup and the cgroup2 mount in /proc/self/mountinfo.
func ownCgroupDir(t *testing.T) (string, bool) {
	t.Helper()
	cg, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	var rel string
	for _, l := range strings.Split(string(cg), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			rel = p
		}
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(mi), "\n") {
		f := strings.Fields(l)
		if i := slices.Index(f, "-"); i > 0 && i+1 < len(f) && f[i+1] == "cgroup2" {
			return f[4] + rel, rel != ""
		}
	}
	return "", false
}

// TestIdentity: this process's own connection is named by its uid; a
// connection that does not exist is not ok.
func TestIdentity(t *testing.T) {
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
	remote, local := serverView(t, ln)
	if got, ok := Identity(remote, local); !ok || got != "uid="+strconv.Itoa(os.Getuid()) {
		t.Fatalf("Identity = %q, %v; want uid=%d, true", got, ok, os.Getuid())
	}
	if got, ok := Identity(netip.MustParseAddrPort("127.0.0.1:1"), local); ok {
		t.Fatalf("Identity of no connection = %q, true; want not ok", got)
	}
}
