package access

import (
	"errors"
	"strings"
	"testing"
)

func TestUnitOfCgroup(t *testing.T) {
	tests := []struct {
		path, want string
	}{
		{"/system.slice/billing.service", "billing.service"},
		{"/system.slice/billing.service/worker", "billing.service"},
		{"/system.slice/system-getty.slice/getty@tty1.service", "getty@tty1.service"},
		{"/system.slice/run-r1234.scope", "run-r1234.scope"},
		{"/init.scope", "init.scope"},
		// A user can name a user unit anything: never a caller's proof.
		{"/user.slice/user-1000.slice/user@1000.service/app.slice/billing.service", ""},
		{"/user.slice/user-1000.slice/session-3.scope", ""},
		{"/", ""},
		{"/docker/0123abcd", ""},
		{"/machine.slice/libpod-0123.scope/container", "libpod-0123.scope"},
	}
	for _, tt := range tests {
		got, err := UnitOfCgroup(tt.path)
		if tt.want == "" {
			if !errors.Is(err, ErrNoUnit) {
				t.Errorf("UnitOfCgroup(%q) = %q, %v; want ErrNoUnit", tt.path, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("UnitOfCgroup(%q) = %q, %v; want %q", tt.path, got, err, tt.want)
		}
	}
}

func TestUnitOfProcCgroup(t *testing.T) {
	tests := map[string]struct{ file, want string }{
		"cgroup v2":  {"0::/system.slice/billing.service\n", "billing.service"},
		"cgroup v1":  {"12:pids:/system.slice/x.service\n1:name=systemd:/system.slice/billing.service\n", "billing.service"},
		"hybrid":     {"1:name=systemd:/system.slice/billing.service\n0::/system.slice/other.service\n", "billing.service"},
		"user unit":  {"0::/user.slice/user-1000.slice/user@1000.service/app.slice/billing.service\n", ""},
		"no systemd": {"0::/\n", ""},
		"empty":      {"", ""},
	}
	for name, tc := range tests {
		got, err := UnitOfProcCgroup(strings.NewReader(tc.file))
		if tc.want == "" && !errors.Is(err, ErrNoUnit) || tc.want != "" && (err != nil || got != tc.want) {
			t.Errorf("%s: got %q, %v; want %q", name, got, err, tc.want)
		}
	}
}
