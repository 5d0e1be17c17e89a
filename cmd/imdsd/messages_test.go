package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/imdsd/imdsd/control"
)

// TestReload_RefusedConfigOnePrefix: a config the daemon refuses is
// reported once as "imdsd reload: ...": the daemon's own "reload: "
// wrapping is not printed a second time (issue 16 item 10: "imdsd reload:
// reload: config file ...").
func TestReload_RefusedConfigOnePrefix(t *testing.T) {
	ctl := newFakeCtl(t)
	ctl.reply = func(string) control.Response {
		return control.Response{Error: "reload: config file /etc/imdsd/imdsd.yaml: role_arn: required"}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"reload", "--socket", ctl.path}, &stdout, &stderr); code != exitError {
		t.Errorf("exit %d, want %d", code, exitError)
	}
	const want = "imdsd reload: config file /etc/imdsd/imdsd.yaml: role_arn: required\n"
	if got := stderr.String(); got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
}

// TestReportCtlErr_KeepsOtherPrefixes: only the daemon's echo of the
// command's own name goes; a message that starts otherwise is printed
// whole, and so is a local error (not a reply of the daemon).
func TestReportCtlErr_KeepsOtherPrefixes(t *testing.T) {
	tests := map[string]struct {
		name string
		err  error
		want string
	}{
		"remote, own prefix":   {"mfa", &control.RemoteError{Cmd: "mfa", Msg: "mfa: code rejected"}, "imdsd mfa: code rejected\n"},
		"remote, other prefix": {"use", &control.RemoteError{Cmd: "use", Msg: "reload: busy"}, "imdsd use: reload: busy\n"},
		"remote, no prefix":    {"use", &control.RemoteError{Cmd: "use", Msg: `unknown role "x"`}, "imdsd use: unknown role \"x\"\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			reportCtlErr(&b, tc.name, tc.err)
			if b.String() != tc.want {
				t.Errorf("got %q, want %q", b.String(), tc.want)
			}
		})
	}
}

// TestVersion_Help: `imdsd version -h` prints its usage and exits 0, like
// every other command (issue 16 item 10: it exited 2).
func TestVersion_Help(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{"version", arg}, &stdout, &stderr); code != exitOK {
			t.Errorf("imdsd version %s: exit %d, want 0; stderr %q", arg, code, stderr.String())
		}
		if !strings.Contains(stderr.String(), "usage: imdsd version") {
			t.Errorf("imdsd version %s: stderr %q, want the usage", arg, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"version", "extra"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("imdsd version extra: exit %d, want %d", code, exitUsage)
	}
	if code := run(context.Background(), []string{"version"}, &stdout, &stderr); code != exitOK || !strings.HasPrefix(stdout.String(), "imdsd ") {
		t.Errorf("imdsd version: exit %d, stdout %q", code, stdout.String())
	}
}
