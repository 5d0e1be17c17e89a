package service

import "testing"

// TestPlatformName: the service platforms are named as users know them,
// not by kardianos/service's identifiers (issue 16 item 10: "not
// installed (unix-systemv)").
func TestPlatformName(t *testing.T) {
	tests := map[string]string{
		"unix-systemv":    "SysV init",
		"linux-systemd":   "systemd",
		"darwin-launchd":  "launchd",
		"windows-service": "Windows service manager",
		"solaris-smf":     "solaris-smf", // unknown: as it is
	}
	for in, want := range tests {
		if got := PlatformName(in); got != want {
			t.Errorf("PlatformName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestStateText: the line `imdsd status` prints without a daemon names
// the system service in words (issue 16 item 10).
func TestStateText(t *testing.T) {
	tests := []struct {
		st       Status
		platform string
		want     string
	}{
		{StatusNotInstalled, "unix-systemv", "not installed as a system service (SysV init)"},
		{StatusStopped, "linux-systemd", "stopped (system service, systemd)"},
		{StatusRunning, "unix-systemv", "running (system service, SysV init)"},
	}
	for _, tc := range tests {
		if got := StateText(tc.st, tc.platform); got != tc.want {
			t.Errorf("StateText(%v, %q) = %q, want %q", tc.st, tc.platform, got, tc.want)
		}
	}
}
