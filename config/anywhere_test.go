package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imdsd/imdsd/internal/rastub"
	"github.com/imdsd/imdsd/roles"
	"github.com/imdsd/imdsd/roles/anywhere"
)

// anywhereFiles writes a leaf of a test CA, and a key of another leaf.
func anywhereFiles(t *testing.T) (rastub.Files, string) {
	t.Helper()
	ca := rastub.NewCA(t, "test CA")
	dir := t.TempDir()
	f := ca.Issue(rastub.LeafOptions{}).Write(dir, "host", rastub.SEC1, ca.Cert)
	other := ca.Issue(rastub.LeafOptions{}).Write(dir, "other", rastub.PKCS8)
	return f, other.PrivateKey
}

// TestLoadFile_RolesAnywhere: the keys decode under roles.NAME and as
// flat keys, into the role's Def, and a named Roles Anywhere role keeps
// its trust anchor's region rather than the flat one.
func TestLoadFile_RolesAnywhere(t *testing.T) {
	f, _ := anywhereFiles(t)
	body := "region: us-east-1\nrole_arn: arn:aws:iam::123456789012:role/host\nroles:\n  ra:\n" +
		"    role_arn: " + rastub.RoleARN + "\n" +
		"    trust_anchor_arn: " + rastub.TrustAnchorARN + "\n" +
		"    profile_arn: " + rastub.ProfileARN + "\n" +
		"    certificate: " + f.Certificate + "\n" +
		"    certificate_chain: " + f.Chain + "\n" +
		"    private_key: " + f.PrivateKey + "\n" +
		"    rolesanywhere_endpoint: http://127.0.0.1:1\n"
	path := filepath.Join(t.TempDir(), "imdsd.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Default()
	if err := LoadFile(path, &c); err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	if err := c.Validate(func(k string) string { return k }); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	defs := c.RoleDefs()
	want := roles.Def{Name: "ra", RoleARN: rastub.RoleARN, TrustAnchorARN: rastub.TrustAnchorARN, ProfileARN: rastub.ProfileARN,
		Certificate: f.Certificate, CertificateChain: f.Chain, PrivateKey: f.PrivateKey, RolesAnywhereEndpoint: "http://127.0.0.1:1",
		MinRemaining: c.Role.MinRemaining}
	if len(defs) != 2 || defs[1] != want {
		t.Fatalf("got %+v, want %+v", defs, want)
	}
	// The reload diff sees a rotated path.
	b := c
	b.Role.Certificate = "/etc/imdsd/new.crt"
	if ch := Changed(c, b); len(ch) != 1 || ch[0].Name != "certificate" {
		t.Errorf("Changed = %v, want certificate", ch)
	}
}

// TestValidate_RolesAnywhere: each bad Roles Anywhere key is named, with
// what is wrong.
func TestValidate_RolesAnywhere(t *testing.T) {
	f, otherKey := anywhereFiles(t)
	good := roles.Def{RoleARN: rastub.RoleARN, TrustAnchorARN: rastub.TrustAnchorARN, ProfileARN: rastub.ProfileARN,
		Certificate: f.Certificate, CertificateChain: f.Chain, PrivateKey: f.PrivateKey}
	for name, tc := range map[string]struct {
		mod  func(*roles.Def)
		key  string
		want error
	}{
		"valid":                      {mod: func(*roles.Def) {}},
		"same region given":          {mod: func(d *roles.Def) { d.Region = rastub.Region }},
		"no profile_arn":             {func(d *roles.Def) { d.ProfileARN = "" }, "profile_arn", ErrAnywhereMissing},
		"no private_key":             {func(d *roles.Def) { d.PrivateKey = "" }, "private_key", ErrAnywhereMissing},
		"no role_arn":                {func(d *roles.Def) { d.RoleARN = "" }, "role_arn", ErrAnywhereMissing},
		"a source profile too":       {func(d *roles.Def) { d.Profile = "dev" }, "profile", ErrAnywhereProfile},
		"bad trust anchor":           {func(d *roles.Def) { d.TrustAnchorARN = rastub.ProfileARN }, "trust_anchor_arn", anywhere.ErrBadTrustAnchorARN},
		"bad profile":                {func(d *roles.Def) { d.ProfileARN = "arn:aws:rolesanywhere:eu-west-1:123456789012:role/x" }, "profile_arn", anywhere.ErrBadProfileARN},
		"profile in another region":  {func(d *roles.Def) { d.ProfileARN = strings.Replace(d.ProfileARN, "eu-west-1", "eu-west-2", 1) }, "profile_arn", anywhere.ErrRegionMismatch},
		"region not the anchor's":    {func(d *roles.Def) { d.Region = "us-east-1" }, "region", anywhere.ErrRegionMismatch},
		"bad endpoint":               {func(d *roles.Def) { d.RolesAnywhereEndpoint = "rolesanywhere" }, "rolesanywhere_endpoint", roles.ErrInvalidEndpoint},
		"key of another certificate": {func(d *roles.Def) { d.PrivateKey = otherKey }, "private_key", anywhere.ErrKeyMismatch},
		"PIN in a pkcs11 URI":        {func(d *roles.Def) { d.PrivateKey = "pkcs11:token=t;object=k;pin-value=s3cr3t?module-path=/x.so" }, "private_key", anywhere.ErrPKCS11PIN},
		"certificate is a key":       {func(d *roles.Def) { d.Certificate = d.PrivateKey }, "certificate", anywhere.ErrNotCert},
		"chain unreadable":           {func(d *roles.Def) { d.CertificateChain = "/nonexistent/chain.pem" }, "certificate_chain", os.ErrNotExist},
	} {
		t.Run(name, func(t *testing.T) {
			for _, named := range []bool{false, true} {
				c := Default()
				d := good
				tc.mod(&d)
				key := tc.key
				if named {
					d.Name = "ra"
					c.Roles = []NamedRole{{Def: d}}
					key = "roles.ra." + tc.key
				} else {
					d.MinRemaining = c.Role.MinRemaining
					c.Role = d
				}
				err := c.Validate(func(k string) string { return k })
				if tc.want == nil {
					if err != nil {
						t.Fatalf("got %v, want nil", err)
					}
					continue
				}
				var ce *Error
				if !errors.As(err, &ce) || ce.Field != key || !errors.Is(err, tc.want) {
					t.Fatalf("got %v, want %s: %v", err, key, tc.want)
				}
				if strings.Contains(err.Error(), "s3cr3t") {
					t.Errorf("the error shows the PIN: %v", err)
				}
			}
		})
	}
}
