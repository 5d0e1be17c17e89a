package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The config a hostile user would write: their own role, and an STS
// endpoint of theirs that the daemon would send its source credentials to.
const (
	goodConfig = "region: eu-west-1\n"
	evilConfig = "role_arn: arn:aws:iam::123456789012:role/mallory\nsts_endpoint: http://127.0.0.1:1\n"
)

// trustDirs is a tree for one trust test: base is root's and 0755 (so the
// other user can reach into it), root is a directory of root's, theirs a
// directory the other user owns and sticky one like /tmp.
type trustDirs struct{ base, root, theirs, sticky string }

func newTrustDirs(t *testing.T, u testUser) trustDirs {
	t.Helper()
	base := t.TempDir()
	d := trustDirs{base: base, root: filepath.Join(base, "etc"), theirs: filepath.Join(base, "home"), sticky: filepath.Join(base, "tmp")}
	// t.TempDir's parent is 0700: open both to the other user.
	mustDo(t, os.Chmod(filepath.Dir(base), 0o755))
	mustDo(t, os.Chmod(base, 0o755))
	mustDo(t, os.Mkdir(d.root, 0o755))
	mustDo(t, os.Mkdir(d.theirs, 0o755))
	mustDo(t, os.Chown(d.theirs, u.UID, u.GID))
	mustDo(t, os.Mkdir(d.sticky, 0o755))
	mustDo(t, os.Chmod(d.sticky, fs.ModeSticky|0o777)) // os.Chmod ignores 0o1000
	return d
}

// rootFile writes a config file of root's, 0600.
func rootFile(t *testing.T, path, body string) string {
	t.Helper()
	mustDo(t, os.WriteFile(path, []byte(body), 0o600))
	mustDo(t, os.Chmod(path, 0o600))
	return path
}

// TestLoadFile_RefusesWhatAnotherUserControls (issue 15 item 5): a root
// daemon reads only a config file that no other user can have chosen: not
// one they own (even 0600), not one in a directory they own or can write,
// not one reached through their directory or their symbolic link. Each
// refusal names the path at fault, its owner and mode, and the fix, and
// leaves the config untouched. The other user is a real second uid, and
// what it writes, it writes as itself.
func TestLoadFile_RefusesWhatAnotherUserControls(t *testing.T) {
	u := addUser(t)
	owner := "uid " + strconv.Itoa(u.UID) + " (" + u.Name + ")"
	for _, tc := range []struct {
		name string
		// setup returns the path to load.
		setup func(t *testing.T, d trustDirs) string
		// want is the sentinel; says what the error must say: the path
		// at fault first, then its owner, mode and the fix.
		want error
		says func(d trustDirs) []string
	}{
		{
			name: "file owned by another user, 0600, with their role",
			setup: func(t *testing.T, d trustDirs) string {
				p := rootFile(t, filepath.Join(d.root, "imdsd.yaml"), goodConfig)
				mustDo(t, os.Chown(p, u.UID, u.GID))
				runAs(t, u, "printf '"+evilConfig+"' > "+p+" && chmod 600 "+p)
				return p
			},
			want: errConfigOwner,
			says: func(d trustDirs) []string {
				p := filepath.Join(d.root, "imdsd.yaml")
				return []string{"file " + p, owner, "mode 0600", "only root may own it", "chown root " + p}
			},
		},
		{
			name: "root's file in a directory another user owns",
			setup: func(t *testing.T, d trustDirs) string {
				return rootFile(t, filepath.Join(d.theirs, "imdsd.yaml"), goodConfig)
			},
			want: errConfigOwner,
			says: func(d trustDirs) []string {
				return []string{"directory " + d.theirs, owner, "mode 0755", "could replace the config file", "chown root " + d.theirs}
			},
		},
		{
			name: "root's file in a directory another user can write through its group",
			setup: func(t *testing.T, d trustDirs) string {
				dir := filepath.Join(d.base, "shared")
				mustDo(t, os.Mkdir(dir, 0o770))
				mustDo(t, os.Chown(dir, 0, u.GID))
				mustDo(t, os.Chmod(dir, 0o770))
				p := rootFile(t, filepath.Join(dir, "imdsd.yaml"), goodConfig)
				// They can rename a file of theirs over root's...
				runAs(t, u, "printf '"+evilConfig+"' > "+dir+"/x && mv -f "+dir+"/x "+p)
				// ... but here root's is back: the directory alone is at fault.
				mustDo(t, os.Remove(p))
				return rootFile(t, p, goodConfig)
			},
			want: errConfigWritable,
			says: func(d trustDirs) []string {
				dir := filepath.Join(d.base, "shared")
				return []string{"directory " + dir, "owner root", "mode 0770", "chmod go-w " + dir, "or move the config file out of it"}
			},
		},
		{
			name: "root's file in a world-writable directory that is not sticky",
			setup: func(t *testing.T, d trustDirs) string {
				dir := filepath.Join(d.base, "open")
				mustDo(t, os.Mkdir(dir, 0o777))
				mustDo(t, os.Chmod(dir, 0o777))
				return rootFile(t, filepath.Join(dir, "imdsd.yaml"), goodConfig)
			},
			want: errConfigWritable,
			says: func(d trustDirs) []string {
				dir := filepath.Join(d.base, "open")
				return []string{"directory " + dir, "mode 0777", "chmod go-w " + dir}
			},
		},
		{
			name: "root's symbolic link into another user's directory",
			setup: func(t *testing.T, d trustDirs) string {
				target := rootFile(t, filepath.Join(d.theirs, "real.yaml"), goodConfig)
				p := filepath.Join(d.root, "imdsd.yaml")
				mustDo(t, os.Symlink(target, p))
				return p
			},
			want: errConfigOwner,
			says: func(d trustDirs) []string { return []string{"directory " + d.theirs, owner, "chown root " + d.theirs} },
		},
		{
			name: "another user's symbolic link in a sticky directory, to root's file",
			setup: func(t *testing.T, d trustDirs) string {
				target := rootFile(t, filepath.Join(d.root, "other.yaml"), goodConfig)
				p := filepath.Join(d.sticky, "imdsd.yaml")
				runAs(t, u, "ln -s "+target+" "+p)
				return p
			},
			want: errConfigOwner,
			says: func(d trustDirs) []string {
				p := filepath.Join(d.sticky, "imdsd.yaml")
				return []string{"symbolic link " + p, owner, "point it at any file", "chown -h root " + p}
			},
		},
		{
			name: "root's file directly in a sticky directory",
			setup: func(t *testing.T, d trustDirs) string {
				return rootFile(t, filepath.Join(d.sticky, "imdsd.yaml"), goodConfig)
			},
			says: func(d trustDirs) []string {
				return []string{filepath.Join(d.sticky, "imdsd.yaml") + " is directly in " + d.sticky, "mode 1777", "hard link", "mkdir -m 0700"}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newTrustDirs(t, u)
			p := tc.setup(t, d)
			c := Default()
			err := LoadFile(p, &c)
			if err == nil {
				t.Fatalf("LoadFile(%s) accepted it, want refused", p)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			msg := err.Error()
			for _, w := range tc.says(d) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			if c.Role.RoleARN != "" || c.Role.STSEndpoint != "" || c.Role.Region != "" {
				t.Errorf("a refused file changed the config: %+v", c.Role)
			}
		})
	}
}

// TestLoadFile_TrustedPaths: what root's daemon accepts: root's file under
// root's directories, below a sticky directory of root's (t.TempDir is
// under /tmp), through root's symbolic links, absolute or relative.
func TestLoadFile_TrustedPaths(t *testing.T) {
	u := addUser(t)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, d trustDirs) string
	}{
		{"root's file in root's directory", func(t *testing.T, d trustDirs) string {
			return rootFile(t, filepath.Join(d.root, "imdsd.yaml"), goodConfig)
		}},
		{"root's 0700 directory in a sticky directory", func(t *testing.T, d trustDirs) string {
			dir := filepath.Join(d.sticky, "mine")
			mustDo(t, os.Mkdir(dir, 0o700))
			return rootFile(t, filepath.Join(dir, "imdsd.yaml"), goodConfig)
		}},
		{"root's absolute symbolic link in a sticky directory", func(t *testing.T, d trustDirs) string {
			target := rootFile(t, filepath.Join(d.root, "real.yaml"), goodConfig)
			p := filepath.Join(d.sticky, "imdsd.yaml")
			mustDo(t, os.Symlink(target, p))
			return p
		}},
		{"root's relative symbolic link through ..", func(t *testing.T, d trustDirs) string {
			rootFile(t, filepath.Join(d.root, "real.yaml"), goodConfig)
			dir := filepath.Join(d.root, "conf.d")
			mustDo(t, os.Mkdir(dir, 0o755))
			p := filepath.Join(dir, "imdsd.yaml")
			mustDo(t, os.Symlink("../real.yaml", p))
			return p
		}},
		{"a relative path", func(t *testing.T, d trustDirs) string {
			rootFile(t, filepath.Join(d.root, "imdsd.yaml"), goodConfig)
			t.Chdir(d.root)
			return "imdsd.yaml"
		}},
		{"0644, readable by others", func(t *testing.T, d trustDirs) string {
			p := rootFile(t, filepath.Join(d.root, "imdsd.yaml"), goodConfig)
			mustDo(t, os.Chmod(p, 0o644))
			return p
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			if err := LoadFile(tc.setup(t, newTrustDirs(t, u)), &c); err != nil {
				t.Fatalf("LoadFile: %v, want accepted", err)
			}
			if c.Role.Region != "eu-west-1" {
				t.Errorf("region %q, want eu-west-1 (the file was not read)", c.Role.Region)
			}
		})
	}
}

// TestTrustPath_DaemonsOwnUser: a daemon running as a user trusts its own
// files and directories as it trusts root's, and still refuses a third
// user's; the daemon's uid is the seam (the test runs as root).
func TestTrustPath_DaemonsOwnUser(t *testing.T) {
	daemonUser, other := addUser(t), addUser(t)
	d := newTrustDirs(t, daemonUser) // d.theirs is the daemon user's here
	own := rootFile(t, filepath.Join(d.theirs, "imdsd.yaml"), goodConfig)
	mustDo(t, os.Chown(own, daemonUser.UID, daemonUser.GID))
	if _, _, err := trustPath(own, daemonUser.UID); err != nil {
		t.Errorf("its own file in its own directory: %v, want accepted", err)
	}
	if _, _, err := trustPath(rootFile(t, filepath.Join(d.root, "imdsd.yaml"), goodConfig), daemonUser.UID); err != nil {
		t.Errorf("root's file: %v, want accepted", err)
	}
	third := rootFile(t, filepath.Join(d.theirs, "third.yaml"), goodConfig)
	mustDo(t, os.Chown(third, other.UID, other.GID))
	_, _, err := trustPath(third, daemonUser.UID)
	if !errors.Is(err, errConfigOwner) {
		t.Fatalf("a third user's file: %v, want errConfigOwner", err)
	}
	if want := "only root or uid " + strconv.Itoa(daemonUser.UID) + " (" + daemonUser.Name + ") (the daemon's user) may own it"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if want := "chown " + daemonUser.Name + " " + third; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}
