package main

import (
	"flag"
	"io"
	"testing"
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
