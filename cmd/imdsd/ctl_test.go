package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"

	"github.com/imdsd/imdsd/control"
)

// TestCtlFlags_SocketAliases: the client commands take the socket path as
// --socket and under serve's name, --control-socket.
func TestCtlFlags_SocketAliases(t *testing.T) {
	for _, name := range []string{"--socket", "--control-socket"} {
		var f ctlFlags
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		f.add(fs)
		if err := fs.Parse([]string{name, "/run/x.sock"}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if f.socket != "/run/x.sock" {
			t.Errorf("%s: socket = %q, want /run/x.sock", name, f.socket)
		}
	}
}

// TestReportCtlErr: a socket the user may not open says "permission
// denied" and the group to join, never "imdsd is not running" (issue 15
// item 10); one served by another user says nothing was sent. The control
// package's TestClient_SystemSocket makes these errors for real, as a
// second uid.
func TestReportCtlErr(t *testing.T) {
	const path = "/run/imdsd/control.sock"
	tests := map[string]struct {
		err     error
		want    []string
		notWant string
	}{
		"permission denied": {
			err:     &control.AccessError{Path: path, Group: "imdsd", Err: syscall.EACCES},
			want:    []string{"imdsd status: permission denied on the control socket " + path, "add yourself to group imdsd"},
			notWant: "not running",
		},
		"served by another user": {
			err:     &control.PeerError{Path: path, UID: 1001},
			want:    []string{"served by uid 1001, not by you or root: refusing", "nothing was sent to it"},
			notWant: "not running",
		},
		"not running": {
			err:  fmt.Errorf("%w: %s: connect: no such file or directory", control.ErrNotRunning, path),
			want: []string{"imdsd is not running", "start it with 'imdsd serve'"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var b strings.Builder
			reportCtlErr(&b, "status", tc.err)
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("got %q, want it to say %q", b.String(), w)
				}
			}
			if tc.notWant != "" && strings.Contains(b.String(), tc.notWant) {
				t.Errorf("got %q, which says %q", b.String(), tc.notWant)
			}
		})
	}
}
