package roles_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/imdsd/imdsd/internal/rastub"
	"github.com/imdsd/imdsd/roles"
	"github.com/imdsd/imdsd/roles/anywhere"
)

func anywhereSpec(fx *rastub.Fixture, f rastub.Files) roles.Spec {
	return roles.Def{
		RoleARN: rastub.RoleARN, TrustAnchorARN: rastub.TrustAnchorARN, ProfileARN: rastub.ProfileARN,
		Certificate: f.Certificate, CertificateChain: f.Chain, PrivateKey: f.PrivateKey,
		RolesAnywhereEndpoint: fx.URL, Duration: 2 * time.Hour,
	}.Spec()
}

// TestResolve_RolesAnywhere_RotatedCertificate: each fetch reads the
// files again, so a certificate and key replaced on disk are the ones the
// next CreateSession is signed with, and the watch shows the new one.
func TestResolve_RolesAnywhere_RotatedCertificate(t *testing.T) {
	fx := rastub.NewFixture(t, rastub.Options{})
	dir := t.TempDir()
	first := fx.CA.Issue(rastub.LeafOptions{CN: "first", Key: rastub.RSA})
	f := first.Write(dir, "host", rastub.PKCS1)
	var checked []string
	spec := anywhereSpec(fx, f)
	spec.CheckKeyFile = func(p string) error { checked = append(checked, p); return nil }
	r, err := roles.Resolve(context.Background(), spec)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if r.Name != "ra-test" || r.Region != rastub.Region || r.Certificate == nil {
		t.Fatalf("got %+v, want role ra-test in %s with a certificate watch", r, rastub.Region)
	}
	creds, err := r.Fetcher.Fetch(context.Background())
	if err != nil {
		t.Fatalf("first fetch: %v", err)
	}
	if d := time.Until(creds.Expires); d < 115*time.Minute || d > 121*time.Minute {
		t.Errorf("expires in %s, want the 2h asked for", d)
	}
	second := fx.CA.Issue(rastub.LeafOptions{CN: "second", Key: rastub.EC})
	second.Write(dir, "host", rastub.SEC1) // same paths, renamed over
	if _, err := r.Fetcher.Fetch(context.Background()); err != nil {
		t.Fatalf("fetch after rotation: %v", err)
	}
	reqs := fx.Requests()
	if len(reqs) != 2 || reqs[0].Serial != first.Cert.SerialNumber.String() || reqs[1].Serial != second.Cert.SerialNumber.String() {
		t.Fatalf("stand-in saw %+v, want the first serial then the second", reqs)
	}
	if reqs[1].Duration != 7200 {
		t.Errorf("duration %d, want 7200", reqs[1].Duration)
	}
	info, ok := r.Certificate.Last()
	if !ok || info.Subject != "CN=second,O=imdsd tests" || info.Serial != second.Cert.SerialNumber.String() {
		t.Errorf("watch shows %+v, want the second certificate", info)
	}
	if len(checked) != 2 || checked[0] != f.PrivateKey {
		t.Errorf("key file checked %v, want %s at each fetch", checked, f.PrivateKey)
	}
}

// TestResolve_RolesAnywhere_Classified: each failure of a Roles Anywhere
// role has the kind status and doctor advise on.
func TestResolve_RolesAnywhere_Classified(t *testing.T) {
	fx := rastub.NewFixture(t, rastub.Options{})
	other := rastub.NewCA(t, "another CA")
	for name, tc := range map[string]struct {
		leaf rastub.Leaf
		role string
		want roles.ErrorKind
	}{
		"expired certificate": {fx.CA.Issue(rastub.LeafOptions{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}), rastub.RoleARN, roles.KindExpiredCertificate},
		"untrusted CA":        {other.Issue(rastub.LeafOptions{}), rastub.RoleARN, roles.KindUntrustedCertificate},
		"access denied":       {fx.CA.Issue(rastub.LeafOptions{}), "arn:aws:iam::123456789012:role/not-in-profile", roles.KindAccessDenied},
	} {
		t.Run(name, func(t *testing.T) {
			spec := anywhereSpec(fx, tc.leaf.Write(t.TempDir(), "leaf", rastub.PKCS8))
			spec.RoleARN = tc.role
			r, err := roles.Resolve(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			_, err = r.Fetcher.Fetch(context.Background())
			if got := roles.Classify(err); got != tc.want {
				t.Errorf("Classify(%v) = %s, want %s", err, got, tc.want)
			}
		})
	}
}

// TestResolve_RolesAnywhere_BadSpec: what Resolve refuses, it names.
func TestResolve_RolesAnywhere_BadSpec(t *testing.T) {
	fx := rastub.NewFixture(t, rastub.Options{})
	f := fx.CA.Issue(rastub.LeafOptions{}).Write(t.TempDir(), "leaf", rastub.PKCS8)
	for name, tc := range map[string]struct {
		edit func(*roles.Spec)
		want error
	}{
		"region not the trust anchor's": {func(s *roles.Spec) { s.Region = "us-east-1" }, anywhere.ErrRegionMismatch},
		"bad profile ARN":               {func(s *roles.Spec) { s.ProfileARN = "nope" }, anywhere.ErrBadProfileARN},
		"bad role ARN":                  {func(s *roles.Spec) { s.RoleARN = "nope" }, roles.ErrInvalidARN},
	} {
		t.Run(name, func(t *testing.T) {
			spec := anywhereSpec(fx, f)
			tc.edit(&spec)
			if _, err := roles.Resolve(context.Background(), spec); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}
