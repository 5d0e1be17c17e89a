package cli

import (
	"errors"
	"flag"
	"io"
	"slices"
	"testing"
)

// TestParseInterspersed: flags may come before, between or after the
// positional arguments, and "--" ends them unless it is a flag's value.
func TestParseInterspersed(t *testing.T) {
	tests := []struct {
		args         []string
		socket, role string
		json         bool
		pos          []string
	}{
		{args: []string{"web", "--socket", "P"}, socket: "P", pos: []string{"web"}},
		{args: []string{"--socket", "P", "web"}, socket: "P", pos: []string{"web"}},
		{args: []string{"a", "--json", "b", "--socket=P"}, socket: "P", json: true, pos: []string{"a", "b"}},
		{args: []string{"--", "-x", "--socket", "P"}, pos: []string{"-x", "--socket", "P"}},
		{args: []string{"a", "--", "--json"}, pos: []string{"a", "--json"}},
		{args: []string{"--role", "--", "a"}, role: "--", pos: []string{"a"}},
		{args: []string{"--json", "--", "a"}, json: true, pos: []string{"a"}},
		{args: nil, pos: []string{}},
	}
	for _, tc := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		socket := fs.String("socket", "", "")
		role := fs.String("role", "", "")
		js := fs.Bool("json", false, "")
		if err := ParseInterspersed(fs, tc.args); err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if *socket != tc.socket || *role != tc.role || *js != tc.json || !slices.Equal(append([]string{}, fs.Args()...), tc.pos) {
			t.Errorf("%q: socket %q role %q json %v args %q; want %q %q %v %q",
				tc.args, *socket, *role, *js, fs.Args(), tc.socket, tc.role, tc.json, tc.pos)
		}
	}
}

// TestParseInterspersed_Errors: an unknown flag anywhere is an error, and
// -h is flag.ErrHelp.
func TestParseInterspersed_Errors(t *testing.T) {
	for _, args := range [][]string{{"a", "--nosuch"}, {"--nosuch", "a"}} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		if err := ParseInterspersed(fs, args); err == nil {
			t.Errorf("%q: no error, want one for the unknown flag", args)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := ParseInterspersed(fs, []string{"a", "-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("a -h: %v, want flag.ErrHelp", err)
	}
}
