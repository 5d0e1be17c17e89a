package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// These tests play another local user who makes the victim's socket
// directory first ($TMPDIR/imdsd-UID, with XDG_RUNTIME_DIR unset as under
// su, sudo, cron or ssh without logind) and serves a fake daemon in it
// (issue 15 item 3), and a user outside the daemon's group (item 10). All
// of them are real uids: useradd, then this test binary run as each.

// TestControlSocket_Squatted: another user made the victim's directory
// first and serves a fake daemon there. The victim's daemon refuses to put
// its socket there, and the victim's commands refuse to talk to it: the
// squatter gets no MFA code and hands out no credentials.
func TestControlSocket_Squatted(t *testing.T) {
	tests := map[string]struct {
		link    bool // the victim's directory is a symbolic link to the squatter's
		wantDir string
	}{
		"another user's directory":                    {wantDir: "belongs to uid "},
		"a symbolic link to another user's directory": {link: true, wantDir: "is a symbolic link"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			victim, squatter := addUser(t), addUser(t)
			bin := testBinary(t)
			tmp := stickyTmp(t)
			victimDir := filepath.Join(tmp, "imdsd-"+strconv.Itoa(victim.UID))
			env := []string{"TMPDIR=" + tmp, "HELPER_DIR=" + victimDir}
			if tc.link {
				env = []string{"TMPDIR=" + tmp, "HELPER_DIR=" + filepath.Join(tmp, "elsewhere"), "HELPER_LINK=" + victimDir}
			}
			fake := startHelper(t, helperCmd(t, bin, squatter, "squat", env))

			venv := []string{"TMPDIR=" + tmp, "HELPER_PEER_UID=" + strconv.Itoa(squatter.UID)}
			runHelper(t, helperCmd(t, bin, victim, "victim-client", venv))
			out := runHelper(t, helperCmd(t, bin, victim, "victim-listen", append(venv, "HELPER_WANT="+victimDir+"|"+tc.wantDir)))
			if tc.wantDir == "belongs to uid " && !strings.Contains(out, "belongs to uid "+strconv.Itoa(squatter.UID)) {
				t.Errorf("Listen's error does not name the squatter's uid %d", squatter.UID)
			}
			if got := fake.String(); strings.Contains(got, "squatter got") {
				t.Errorf("the squatter was sent a command:\n%s", got)
			}
		})
	}
}

// TestListen_UnsafeDir: directories the victim's daemon refuses even though
// nobody serves in them.
func TestListen_UnsafeDir(t *testing.T) {
	victim, other := addUser(t), addUser(t)
	bin := testBinary(t)
	tests := map[string]struct {
		setup func(t *testing.T, dir string)
		want  string
	}{
		"the victim's own directory, writable by others": {
			setup: func(t *testing.T, dir string) {
				mkdirOwned(t, dir, victim.UID, 0o777)
			},
			want: "lets other users write in it",
		},
		"a symbolic link to the victim's own directory": {
			setup: func(t *testing.T, dir string) {
				real := dir + ".real"
				mkdirOwned(t, real, victim.UID, 0o700)
				if err := os.Symlink(real, dir); err != nil {
					t.Fatal(err)
				}
				if err := os.Lchown(dir, other.UID, other.GID); err != nil {
					t.Fatal(err)
				}
			},
			want: "is a symbolic link",
		},
		"a file": {
			setup: func(t *testing.T, dir string) {
				if err := os.WriteFile(dir, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Chown(dir, other.UID, other.GID); err != nil {
					t.Fatal(err)
				}
			},
			want: "is not a directory",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tmp := stickyTmp(t)
			dir := filepath.Join(tmp, "imdsd-"+strconv.Itoa(victim.UID))
			tc.setup(t, dir)
			runHelper(t, helperCmd(t, bin, victim, "victim-listen", []string{"TMPDIR=" + tmp, "HELPER_WANT=" + dir + "|" + tc.want}))
		})
	}
}

// TestListen_PrivateDir: with nobody in the way, the victim's daemon makes
// its directory 0700 (or tightens the 0750 one an older imdsd made) and
// its own commands reach it.
func TestListen_PrivateDir(t *testing.T) {
	victim := addUser(t)
	bin := testBinary(t)
	for _, existing := range []bool{false, true} {
		t.Run(fmt.Sprintf("existing=%v", existing), func(t *testing.T) {
			tmp := stickyTmp(t)
			if existing {
				mkdirOwned(t, filepath.Join(tmp, "imdsd-"+strconv.Itoa(victim.UID)), victim.UID, 0o750)
			}
			runHelper(t, helperCmd(t, bin, victim, "victim-own", []string{"TMPDIR=" + tmp}))
		})
	}
}

// TestClient_SystemSocket: the service's socket, as systemd lays it out
// (/run/imdsd owned by the service user, mode 0755; the socket 0660 in a
// group), and root's. A member of the group is served; anyone else is told
// "permission denied" and which group to join, not "imdsd is not running"
// (issue 15 item 10). A service user's socket in a directory anyone could
// have made (under a sticky /tmp) is not trusted.
func TestClient_SystemSocket(t *testing.T) {
	svc, client := addUser(t), addUser(t)
	group, gid := addGroup(t)
	bin := testBinary(t)

	run := filepath.Join(sharedDir(t), "imdsd") // like /run/imdsd
	mkdirOwned(t, run, svc.UID, 0o755)
	svcSock := filepath.Join(run, SocketName)
	// The service's group is its own (Group=imdsd), as under systemd.
	startHelper(t, helperCmd(t, bin, svc, "serve", []string{"HELPER_SOCKET=" + svcSock, "HELPER_GID=-1"}))

	rootSock := filepath.Join(sharedDir(t), "root", SocketName)
	startServerGID(t, rootSock, gid)
	closedSock := filepath.Join(sharedDir(t), "closed", SocketName)
	startServerGID(t, closedSock, gid)
	if err := os.Chmod(filepath.Dir(closedSock), 0o750); err != nil { // root:group 0750
		t.Fatal(err)
	}

	tmpSock := filepath.Join(stickyTmp(t), "imdsd-svc", SocketName)
	mkdirOwned(t, filepath.Dir(tmpSock), svc.UID, 0o755)
	startHelper(t, helperCmd(t, bin, svc, "serve", []string{"HELPER_SOCKET=" + tmpSock, "HELPER_GID=-1"}))

	tests := map[string]struct {
		socket string
		group  string
		gid    int
		member bool
		want   string // ok, denied, untrusted
	}{
		"service socket, member of the group":       {svcSock, svc.Name, svc.GID, true, "ok"},
		"service socket, not a member":              {svcSock, svc.Name, svc.GID, false, "denied"},
		"root's 0660 socket, member":                {rootSock, group, gid, true, "ok"},
		"root's 0660 socket, not a member":          {rootSock, group, gid, false, "denied"},
		"root's socket in a 0750 directory":         {closedSock, group, gid, false, "denied"},
		"service user's socket under a sticky /tmp": {tmpSock, svc.Name, svc.GID, true, "untrusted"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var groups []int
			if tc.member {
				groups = []int{tc.gid}
			}
			env := []string{"HELPER_SOCKET=" + tc.socket, "HELPER_EXPECT=" + tc.want, "HELPER_GROUP=" + tc.group, "HELPER_PEER_UID=" + strconv.Itoa(svc.UID)}
			runHelper(t, helperCmd(t, bin, client, "dial", env, groups...))
		})
	}
}

// startServerGID serves the control API as root on path, in the group gid.
func startServerGID(tb testing.TB, path string, gid int) {
	tb.Helper()
	ln, err := Listen(path, ListenOptions{GID: gid})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewServer(ServerOptions{Handlers: statusHandlers("root")}).Run(ctx, ln) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Run: %v", err)
		}
	})
}

func mkdirOwned(tb testing.TB, dir string, uid int, mode os.FileMode) {
	tb.Helper()
	if err := os.Mkdir(dir, mode); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chown(dir, uid, -1); err != nil {
		tb.Fatal(err)
	}
}

func statusHandlers(version string) map[string]Handler {
	return map[string]Handler{
		CmdStatus: func(context.Context, json.RawMessage) (any, error) { return Status{Version: version}, nil },
	}
}

func containsLine(s, line string) bool {
	for l := range strings.Lines(s) {
		if strings.TrimSuffix(l, "\n") == line {
			return true
		}
	}
	return false
}

// TestHelperProcess is the other users' side of the tests above; it does
// nothing unless CONTROL_HELPER names what to do.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv("CONTROL_HELPER")
	if mode == "" {
		return
	}
	switch mode {
	case "squat":
		helperSquat(t)
	case "serve":
		gid, _ := strconv.Atoi(os.Getenv("HELPER_GID"))
		ln, err := Listen(os.Getenv("HELPER_SOCKET"), ListenOptions{GID: gid})
		if err != nil {
			t.Fatal(err)
		}
		serveUntilStdinCloses(t, ln, statusHandlers("service"))
	case "victim-client":
		helperVictimClient(t)
	case "victim-listen":
		_, err := Listen(DefaultPath(), ListenOptions{GID: -1})
		if !errors.Is(err, ErrUnsafeDir) {
			t.Fatalf("Listen(%s): got %v, want ErrUnsafeDir", DefaultPath(), err)
		}
		for _, want := range strings.Split(os.Getenv("HELPER_WANT"), "|") {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Listen: error %q does not say %q", err, want)
			}
		}
		fmt.Println("Listen refused:", err)
	case "victim-own":
		helperVictimOwn(t)
	case "dial":
		helperDial(t)
	default:
		t.Fatalf("unknown CONTROL_HELPER %q", mode)
	}
}

// helperSquat makes HELPER_DIR (and HELPER_LINK pointing to it) and serves
// a fake daemon there that anyone may reach.
func helperSquat(t *testing.T) {
	dir := os.Getenv("HELPER_DIR")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if link := os.Getenv("HELPER_LINK"); link != "" {
		if err := os.Symlink(dir, link); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(dir, SocketName)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	serveUntilStdinCloses(t, ln, map[string]Handler{
		CmdStatus: func(context.Context, json.RawMessage) (any, error) {
			fmt.Println("squatter got status")
			return Status{Version: "squatter"}, nil
		},
		CmdMFA: func(context.Context, json.RawMessage) (any, error) {
			fmt.Println("squatter got an MFA code")
			return MFAReply{}, nil
		},
		CmdCreds: func(context.Context, json.RawMessage) (any, error) {
			fmt.Println("squatter got a creds request")
			return Creds{Role: "squatter", AccessKeyID: "ASIASQUATTER"}, nil
		},
	})
}

// helperVictimClient: every way the victim's commands reach the daemon
// refuses the squatter, naming the socket and the squatter's uid.
func helperVictimClient(t *testing.T) {
	ctx := context.Background()
	peer, _ := strconv.Atoi(os.Getenv("HELPER_PEER_UID"))
	check := func(what string, err error) {
		var pe *PeerError
		if !errors.As(err, &pe) || pe.UID != peer || pe.Path != DefaultPath() {
			t.Errorf("%s: got %v, want a PeerError for uid %d on %s", what, err, peer, DefaultPath())
			return
		}
		want := fmt.Sprintf("the control socket %s is served by uid %d, not by you or root: refusing", DefaultPath(), peer)
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %q, want it to say %q", what, err, want)
		}
		fmt.Printf("%s refused: %v\n", what, err)
	}
	_, err := Find(ctx, ClientPaths()...)
	check("Find", err)
	c := Client{Path: DefaultPath()}
	check("mfa", c.Call(ctx, CmdMFA, MFAArgs{Code: "123456"}, nil))
	var creds Creds
	check("creds", c.Call(ctx, CmdCreds, CredsArgs{}, &creds))
	if creds != (Creds{}) {
		t.Errorf("creds: got credentials from the squatter")
	}
}

// helperVictimOwn: Listen on the default path makes (or tightens) a 0700
// directory of this user's, and this user's commands reach the daemon.
func helperVictimOwn(t *testing.T) {
	ln, err := Listen(DefaultPath(), ListenOptions{GID: -1})
	if err != nil {
		t.Fatal(err)
	}
	o, ok := statOwner(os.Lstat(filepath.Dir(DefaultPath())))
	if !ok || o.uid != os.Geteuid() || o.mode != 0o700 || !o.isDir {
		t.Errorf("directory %s: got %+v, want a 0700 directory of uid %d", filepath.Dir(DefaultPath()), o, os.Geteuid())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewServer(ServerOptions{Handlers: statusHandlers("own")}).Run(ctx, ln) }()
	c, err := Find(ctx, ClientPaths()...)
	if err != nil || c.Path != DefaultPath() {
		t.Errorf("Find: %q, %v; want %s", c.Path, err, DefaultPath())
	}
	var st Status
	if err := c.Call(ctx, CmdStatus, nil, &st); err != nil || st.Version != "own" {
		t.Errorf("status: %+v, %v; want the daemon's own answer", st, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	fmt.Println("own daemon reached")
}

// helperDial calls HELPER_SOCKET and checks the outcome HELPER_EXPECT.
func helperDial(t *testing.T) {
	ctx := context.Background()
	path := os.Getenv("HELPER_SOCKET")
	var st Status
	err := Client{Path: path}.Call(ctx, CmdStatus, nil, &st)
	_, ferr := Find(ctx, path)
	switch os.Getenv("HELPER_EXPECT") {
	case "ok":
		if err != nil || ferr != nil || st.Version == "" {
			t.Fatalf("got %v and Find %v; want an answer", err, ferr)
		}
		fmt.Println("answered by", st.Version)
	case "denied":
		group := os.Getenv("HELPER_GROUP")
		for what, err := range map[string]error{"Call": err, "Find": ferr} {
			if !errors.Is(err, fs.ErrPermission) || !errors.Is(err, ErrNoAccess) || errors.Is(err, ErrNotRunning) {
				t.Errorf("%s: got %v, want a permission error, not ErrNotRunning", what, err)
				continue
			}
			for _, want := range []string{"permission denied", path, "add yourself to group " + group} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%s: %q does not say %q", what, err, want)
				}
			}
		}
		fmt.Println("refused:", err)
	case "untrusted":
		peer, _ := strconv.Atoi(os.Getenv("HELPER_PEER_UID"))
		var pe *PeerError
		if !errors.As(err, &pe) || pe.UID != peer || !errors.Is(ferr, ErrUntrustedPeer) {
			t.Fatalf("got %v and Find %v; want a PeerError for uid %d", err, ferr, peer)
		}
		fmt.Println("refused:", err)
	}
}

func serveUntilStdinCloses(t *testing.T, ln net.Listener, h map[string]Handler) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	fmt.Println("ready")
	if err := NewServer(ServerOptions{Handlers: h}).Run(ctx, ln); err != nil {
		t.Fatal(err)
	}
}
