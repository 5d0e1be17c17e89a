package packaging

import (
	"strings"
	"testing"
)

func TestUnit_Hardening(t *testing.T) {
	u := Unit()
	for _, line := range []string{
		"ExecStart=/usr/bin/imdsd serve --config /etc/imdsd/imdsd.yaml",
		"Restart=always",
		"RestartSec=1",
		"User=imdsd",
		"AmbientCapabilities=CAP_NET_ADMIN CAP_NET_BIND_SERVICE",
		"CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE",
		"NoNewPrivileges=yes",
		"ProtectSystem=strict",
		"ProtectHome=yes",
		"PrivateTmp=yes",
		"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
		"WantedBy=multi-user.target",
	} {
		if !hasLine(u, line) {
			t.Errorf("unit lacks the line %q", line)
		}
	}
	for _, bad := range []string{"StandardOutput=file:", "RestartSec=120"} {
		if strings.Contains(u, bad) {
			t.Errorf("unit contains %q: logs go to the journal and restarts are quick", bad)
		}
	}
}

func TestSystemdTemplate_OnlyExecStartChanges(t *testing.T) {
	tmpl := SystemdTemplate()
	if !hasLine(tmpl, "ExecStart={{Path | cmdEscape}}{{range Arguments}} {{. | cmd}}{{end}}") {
		t.Fatalf("template has no templated ExecStart:\n%s", tmpl)
	}
	if strings.Count(tmpl, "{{") != 4 {
		t.Errorf("got %d template actions, want 4 (only ExecStart is templated)", strings.Count(tmpl, "{{"))
	}
	a, b := strings.Split(Unit(), "\n"), strings.Split(tmpl, "\n")
	if len(a) != len(b) {
		t.Fatalf("got %d lines, want %d", len(b), len(a))
	}
	for i := range a {
		if a[i] != b[i] && !strings.HasPrefix(a[i], "ExecStart=") {
			t.Errorf("line %d: got %q, want %q", i+1, b[i], a[i])
		}
	}
}

func TestDefaultConfig(t *testing.T) {
	c := string(DefaultConfig())
	if !hasLine(c, "link_local: true") {
		t.Error("default config must turn link_local on")
	}
	if !strings.Contains(c, "#role_arn:") {
		t.Error("default config must show role_arn, commented")
	}
	for _, line := range strings.Split(c, "\n") {
		if strings.TrimSpace(line) != "" && !strings.HasPrefix(line, "#") && line != "link_local: true" {
			t.Errorf("uncommented line %q: only link_local is set by default", line)
		}
	}
}

func hasLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			return true
		}
	}
	return false
}
