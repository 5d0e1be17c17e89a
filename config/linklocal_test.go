package config

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/imdsd/imdsd/packaging"
)

func TestDecodeConfig_LinkLocal(t *testing.T) {
	tests := map[string]struct {
		yaml    string
		want    bool
		wantErr error
	}{
		"true":      {"link_local: true\n", true, nil},
		"false":     {"link_local: false\n", false, nil},
		"absent":    {"region: us-east-1\n", false, nil},
		"string":    {"link_local: \"true\"\n", false, errNotBool},
		"not bool":  {"link_local: maybe\n", false, errNotBool},
		"duplicate": {"link_local: true\nlink_local: false\n", true, ErrDuplicate},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var c Config
			err := Decode([]byte(tc.yaml), &c)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got error %v, want %v", err, tc.wantErr)
			}
			if c.LinkLocal != tc.want {
				t.Errorf("got LinkLocal %v, want %v", c.LinkLocal, tc.want)
			}
		})
	}
}

func TestListenAddrs_LinkLocal(t *testing.T) {
	tests := map[string]struct {
		cfg  Config
		want []string
	}{
		"off":          {Config{}, DefaultListen()},
		"on, defaults": {Config{LinkLocal: true}, []string{"127.0.0.1:9254", "[::1]:9254", "169.254.169.254:80", "[fd00:ec2::254]:80"}},
		"on, listen":   {Config{LinkLocal: true, Listen: []string{"127.0.0.1:7000"}}, []string{"127.0.0.1:7000", "169.254.169.254:80", "[fd00:ec2::254]:80"}},
		"off, listen":  {Config{Listen: []string{"127.0.0.1:7000"}}, []string{"127.0.0.1:7000"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.cfg.ListenAddrs(); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if !slices.Equal(DefaultListen(), []string{"127.0.0.1:9254", "[::1]:9254"}) {
		t.Errorf("ListenAddrs changed the shared defaults: %v", DefaultListen())
	}
}

func TestServeFlags_LinkLocal(t *testing.T) {
	c, err := NewFlags("imdsd serve").Parse([]string{"--link-local", "--role-arn", "arn:aws:iam::123456789012:role/a"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if !c.LinkLocal {
		t.Error("--link-local did not set LinkLocal")
	}
}

// TestDefaultConfig_LoadsButNeedsRole: the shipped default config decodes
// with the strict decoder (so every key in it exists) and turns
// link_local on, and validation asks for a role, as install reports.
func TestDefaultConfig_LoadsButNeedsRole(t *testing.T) {
	c := Default()
	if err := Decode(packaging.DefaultConfig(), &c); err != nil {
		t.Fatalf("default config does not decode: %v", err)
	}
	if !c.LinkLocal {
		t.Error("default config: link_local is off, want on")
	}
	if err := c.Validate(func(k string) string { return k }); !errors.Is(err, ErrNoRoleOrSource) {
		t.Errorf("validate: got %v, want %v", err, ErrNoRoleOrSource)
	}
	// Every commented key is a real key: uncomment them all and decode.
	var lines []string
	for _, l := range strings.Split(string(packaging.DefaultConfig()), "\n") {
		if k, _, ok := strings.Cut(strings.TrimPrefix(l, "#"), ":"); ok && strings.HasPrefix(l, "#") && !strings.Contains(k, " ") && k != "" {
			lines = append(lines, strings.TrimPrefix(l, "#"))
		}
	}
	if len(lines) < 10 {
		t.Fatalf("found %d commented keys, want the documented ones", len(lines))
	}
	c = Default()
	if err := Decode([]byte(strings.Join(lines, "\n")), &c); err != nil {
		t.Errorf("uncommented default config: %v\n%s", err, strings.Join(lines, "\n"))
	}
}
