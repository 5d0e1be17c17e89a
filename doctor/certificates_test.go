package doctor

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/imdsd/imdsd/control"
)

// TestDoctor_Certificates: a Roles Anywhere role's certificate is shown
// with its subject, issuer and expiry, and fails the check within 7 days
// of its end.
func TestDoctor_Certificates(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	cert := func(left time.Duration) *control.CertificateStatus {
		return &control.CertificateStatus{Subject: "CN=host.example", Issuer: "CN=Corp CA", Serial: "42", Expires: now.Add(left), ExpiresSoon: left < 7*24*time.Hour}
	}
	for name, tc := range map[string]struct {
		status *control.Status
		ok     bool
		skip   bool
		want   []string
	}{
		"no daemon":         {status: nil, ok: true, skip: true},
		"no such role":      {status: &control.Status{Roles: []control.RoleStatus{{Name: "dev"}}}, ok: true, skip: true},
		"valid for 30 days": {status: &control.Status{Roles: []control.RoleStatus{{Name: "ra", Certificate: cert(30 * 24 * time.Hour)}}}, ok: true, want: []string{"ra: CN=host.example", "issuer CN=Corp CA", "2027-01-03"}},
		"ends in 3 days":    {status: &control.Status{Roles: []control.RoleStatus{{Name: "ra", Certificate: cert(3 * 24 * time.Hour)}}}, want: []string{"ra: CN=host.example"}},
		"expired":           {status: &control.Status{Roles: []control.RoleStatus{{Name: "ra", Certificate: cert(-time.Hour)}}}, want: []string{"EXPIRED"}},
	} {
		t.Run(name, func(t *testing.T) {
			d := newDoctor(&bytes.Buffer{})
			d.now = func() time.Time { return now }
			d.status = tc.status
			r := d.checkCertificates(context.Background())
			if r.ok != tc.ok || r.skip != tc.skip {
				t.Fatalf("got ok %v skip %v (%s), want ok %v skip %v", r.ok, r.skip, r.msg, tc.ok, tc.skip)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.msg, w) {
					t.Errorf("message %q lacks %q", r.msg, w)
				}
			}
			if !r.ok && !strings.Contains(r.fix, "renew the certificate of ra") {
				t.Errorf("fix %q does not say to renew ra's certificate", r.fix)
			}
		})
	}
}
