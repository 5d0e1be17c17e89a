package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/imdsd/imdsd/control"
)

// fakeCtl is a control socket that records each request and answers it
// with a fixed reply: a stand-in for the daemon, to see what a client
// command sends.
type fakeCtl struct {
	path string
	mu   sync.Mutex
	reqs []control.Request
	// reply answers a command; nil answers {"ok":true}.
	reply func(cmd string) control.Response
}

func newFakeCtl(tb testing.TB) *fakeCtl {
	tb.Helper()
	// Unix socket paths are short (108 bytes): not under a long TempDir.
	f := &fakeCtl{path: filepath.Join(shortTempDir(tb), "c.sock")}
	ln, err := net.Listen("unix", f.path)
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	tb.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.serve(c)
		}
	})
	return f
}

func (f *fakeCtl) serve(c net.Conn) {
	defer c.Close()
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return
	}
	var req control.Request
	if json.Unmarshal(line, &req) != nil {
		return
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	reply := f.reply
	f.mu.Unlock()
	resp := control.Response{OK: true}
	if reply != nil {
		resp = reply(req.Cmd)
	}
	b, _ := json.Marshal(resp)
	_, _ = c.Write(append(b, '\n'))
}

// requests returns the requests received so far as "cmd args" strings.
func (f *fakeCtl) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.reqs {
		out = append(out, strings.TrimSpace(r.Cmd+" "+string(r.Args)))
	}
	return out
}

// TestCtlCommands_FlagsAnywhere: the control subcommands take their flags
// before, between or after the positional arguments, as users type them
// (issue 16 item 9: `imdsd use web --socket P` said "give one role name",
// `imdsd mfa 123456 --socket P` said unexpected argument "--socket"), and
// "--" still ends the flags.
func TestCtlCommands_FlagsAnywhere(t *testing.T) {
	const sock = "SOCK" // replaced by the fake daemon's socket
	tests := map[string]struct {
		args []string
		want string // the request the daemon gets
	}{
		"use, flag after the role":       {[]string{"use", "web", "--socket", sock}, `use {"role":"web"}`},
		"use, flag before the role":      {[]string{"use", "--socket", sock, "web"}, `use {"role":"web"}`},
		"use, flag=value after the role": {[]string{"use", "web", "--socket=" + sock}, `use {"role":"web"}`},
		"use, -- ends the flags":         {[]string{"use", "--socket", sock, "--", "-web"}, `use {"role":"-web"}`},
		"mfa, flag after the code":       {[]string{"mfa", "123456", "--socket", sock}, `mfa {"code":"123456"}`},
		"mfa, flags around the code":     {[]string{"mfa", "--role", "web", "123456", "--socket", sock}, `mfa {"role":"web","code":"123456"}`},
		"mfa, a role named --":           {[]string{"mfa", "--role", "--", "123456", "--socket", sock}, `mfa {"role":"--","code":"123456"}`},
		"creds, flags in any order":      {[]string{"creds", "--format", "json", "--socket", sock, "--role", "web"}, `creds {"role":"web"}`},
		"reload, control-socket alias":   {[]string{"reload", "--control-socket", sock}, `reload`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctl := newFakeCtl(t)
			ctl.reply = func(string) control.Response { return control.Response{OK: true, Data: json.RawMessage(`{}`)} }
			args := replaceAll(tc.args, sock, ctl.path)
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), args, &stdout, &stderr); code != exitOK {
				t.Fatalf("imdsd %s: exit %d, want 0; stderr:\n%s", strings.Join(tc.args, " "), code, stderr.String())
			}
			got := ctl.requests()
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("imdsd %s: daemon got %q, want [%q]", strings.Join(tc.args, " "), got, tc.want)
			}
		})
	}
}

// TestCtlCommands_ArgumentErrors: with flags parsed anywhere, a wrong
// number of positional arguments is still a usage error (exit 2) that
// names the argument, and nothing is sent to the daemon.
func TestCtlCommands_ArgumentErrors(t *testing.T) {
	const sock = "SOCK"
	tests := map[string]struct {
		args []string
		want string
	}{
		"use, two roles":                 {[]string{"use", "web", "--socket", sock, "db"}, "give one role name"},
		"use, no role":                   {[]string{"use", "--socket", sock}, "give one role name"},
		"mfa, two codes":                 {[]string{"mfa", "123456", "--socket", sock, "654321"}, `unexpected argument "654321"`},
		"mfa, a flag after --":           {[]string{"mfa", "123456", "--", "--socket", sock}, `unexpected argument "--socket"`},
		"creds, an argument":             {[]string{"creds", "web", "--socket", sock}, `unexpected argument "web"`},
		"reload, an argument after flag": {[]string{"reload", "--socket", sock, "now"}, `unexpected argument "now"`},
		"use, unknown flag after role":   {[]string{"use", "web", "--sock", sock}, "flag provided but not defined: -sock"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctl := newFakeCtl(t)
			args := replaceAll(tc.args, sock, ctl.path)
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, &stdout, &stderr)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tc.want)
			}
			if got := ctl.requests(); len(got) != 0 {
				t.Errorf("daemon got %q, want nothing", got)
			}
		})
	}
}

// TestParseInterspersed_Help: -h after a positional argument prints the
// usage and is not an error for the caller to report.
func TestParseInterspersed_Help(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"use", "web", "-h"}, &stdout, &stderr); code != exitOK {
		t.Errorf("imdsd use web -h: exit %d, want 0", code)
	}
	if !strings.Contains(stderr.String(), "usage: imdsd use") {
		t.Errorf("imdsd use web -h: stderr %q, want the usage", stderr.String())
	}
}

func replaceAll(args []string, old, repl string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.ReplaceAll(a, old, repl)
	}
	return out
}

// shortTempDir is t.TempDir under /tmp, short enough for a socket path.
func shortTempDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "imdsd-ctl")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
