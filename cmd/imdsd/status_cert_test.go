package main

import (
	"strings"
	"testing"
	"time"

	"github.com/imdsd/imdsd/control"
)

// TestPrintStatus_Certificate: a Roles Anywhere role's certificate is
// shown under the table, with a warning when it ends within 7 days.
func TestPrintStatus_Certificate(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		soon bool
		left time.Duration
		warn bool
	}{
		"valid for 30 days": {false, 30 * 24 * time.Hour, false},
		"ends in 2 days":    {true, 48 * time.Hour, true},
	} {
		t.Run(name, func(t *testing.T) {
			st := control.Status{Roles: []control.RoleStatus{{Name: "onprem", State: control.StateFresh,
				Certificate: &control.CertificateStatus{Subject: "CN=host.example", Issuer: "CN=Corp CA", Serial: "4242", Expires: now.Add(tc.left), ExpiresSoon: tc.soon}}}}
			var b strings.Builder
			printStatus(&b, st, now, false)
			out := b.String()
			if !strings.Contains(out, "onprem: certificate CN=host.example, issuer CN=Corp CA, serial 4242, expires in") {
				t.Errorf("lacks the certificate line:\n%s", out)
			}
			if got := strings.Contains(out, "WARNING: renew it within 7 days"); got != tc.warn {
				t.Errorf("warning shown %v, want %v:\n%s", got, tc.warn, out)
			}
		})
	}
}
