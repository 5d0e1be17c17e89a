package anywhere_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/imdsd/imdsd/internal/rastub"
	"github.com/imdsd/imdsd/roles/anywhere"
)

func input() anywhere.Input {
	return anywhere.Input{TrustAnchorARN: rastub.TrustAnchorARN, ProfileARN: rastub.ProfileARN, RoleARN: rastub.RoleARN, Duration: time.Hour, SessionName: "imdsd-test"}
}

func load(t *testing.T, f rastub.Files) anywhere.Identity {
	t.Helper()
	id, err := anywhere.Load(anywhere.Paths{Certificate: f.Certificate, Chain: f.Chain, PrivateKey: f.PrivateKey})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return id
}

// TestCreateSession_StandInAccepts: imdsd's signer against the stand-in
// AWS's helper passes: RSA and ECDSA leaves, an intermediate in the chain
// (a separate file, or bundled after the leaf).
func TestCreateSession_StandInAccepts(t *testing.T) {
	fx := rastub.NewFixture(t, rastub.Options{})
	inter := fx.CA.Intermediate("imdsd test intermediate")
	for name, tc := range map[string]struct {
		issuer  *rastub.CA
		key     rastub.KeyType
		format  rastub.KeyFormat
		chain   bool
		bundled bool
		alg     string
	}{
		"RSA PKCS#8":                {issuer: fx.CA, key: rastub.RSA, alg: anywhere.AlgorithmRSA},
		"RSA PKCS#1":                {issuer: fx.CA, key: rastub.RSA, format: rastub.PKCS1, alg: anywhere.AlgorithmRSA},
		"ECDSA SEC1":                {issuer: fx.CA, key: rastub.EC, format: rastub.SEC1, alg: anywhere.AlgorithmECDSA},
		"ECDSA via intermediate":    {issuer: inter, key: rastub.EC, chain: true, alg: anywhere.AlgorithmECDSA},
		"RSA, intermediate bundled": {issuer: inter, key: rastub.RSA, bundled: true, alg: anywhere.AlgorithmRSA},
	} {
		t.Run(name, func(t *testing.T) {
			leaf := tc.issuer.Issue(rastub.LeafOptions{Key: tc.key})
			dir := t.TempDir()
			var f rastub.Files
			if tc.chain {
				f = leaf.Write(dir, "leaf", tc.format, inter.Cert)
			} else {
				f = leaf.Write(dir, "leaf", tc.format)
			}
			if tc.bundled {
				rastub.WriteFile(f.Certificate, rastub.CertPEM(leaf.Cert, inter.Cert), 0o644)
			}
			c := anywhere.Client{Endpoint: fx.URL, Region: rastub.Region}
			creds, err := c.CreateSession(context.Background(), load(t, f), input())
			if err != nil {
				t.Fatalf("CreateSession: %v\nstand-in saw %+v", err, fx.Requests())
			}
			if !strings.HasPrefix(creds.AccessKeyID, "ASIA") || creds.SessionToken == "" || !creds.CanExpire {
				t.Errorf("got %q (token %t, can expire %t), want the stand-in's session", creds.AccessKeyID, creds.SessionToken != "", creds.CanExpire)
			}
			if d := time.Until(creds.Expires); d < 55*time.Minute || d > 61*time.Minute {
				t.Errorf("got expiry in %s, want the stand-in's hour", d)
			}
			reqs := fx.Requests()
			last := reqs[len(reqs)-1]
			if last.Algorithm != tc.alg || last.Serial != leaf.Cert.SerialNumber.String() || last.Duration != 3600 || last.SessionName != "imdsd-test" {
				t.Errorf("stand-in saw %+v, want %s, serial %s, 3600 s, imdsd-test", last, tc.alg, leaf.Cert.SerialNumber)
			}
			if wantChain := tc.chain || tc.bundled; wantChain != (last.ChainLen == 1) {
				t.Errorf("stand-in saw a chain of %d", last.ChainLen)
			}
		})
	}
}

// TestCreateSession_Refused: what the service refuses comes back as its
// error code (for roles.Classify), and an expired leaf is refused before
// any request.
func TestCreateSession_Refused(t *testing.T) {
	fx := rastub.NewFixture(t, rastub.Options{})
	other := rastub.NewCA(t, "another CA")
	for name, tc := range map[string]struct {
		leaf     rastub.Leaf
		in       func(*anywhere.Input)
		wantCode string
		wantErr  error
	}{
		"leaf of another CA": {leaf: other.Issue(rastub.LeafOptions{}), wantCode: "AccessDeniedException"},
		"expired leaf": {leaf: fx.CA.Issue(rastub.LeafOptions{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Minute)}),
			wantErr: anywhere.ErrCertExpired},
		"leaf not valid yet": {leaf: fx.CA.Issue(rastub.LeafOptions{NotBefore: time.Now().Add(time.Hour)}), wantErr: anywhere.ErrCertNotYet},
		"role not in profile": {leaf: fx.CA.Issue(rastub.LeafOptions{}), in: func(i *anywhere.Input) { i.RoleARN = "arn:aws:iam::123456789012:role/other" },
			wantCode: "AccessDeniedException"},
		"duration too long": {leaf: fx.CA.Issue(rastub.LeafOptions{}), in: func(i *anywhere.Input) { i.Duration = 13 * time.Hour },
			wantCode: "ValidationException"},
	} {
		t.Run(name, func(t *testing.T) {
			in := input()
			if tc.in != nil {
				tc.in(&in)
			}
			before := len(fx.Requests())
			c := anywhere.Client{Endpoint: fx.URL, Region: rastub.Region}
			_, err := c.CreateSession(context.Background(), load(t, tc.leaf.Write(t.TempDir(), "leaf", rastub.PKCS8)), in)
			if err == nil {
				t.Fatal("got credentials")
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("got %v, want %v", err, tc.wantErr)
				}
				if n := len(fx.Requests()) - before; n != 0 {
					t.Errorf("sent %d requests, want none", n)
				}
				return
			}
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != tc.wantCode {
				t.Errorf("got %v, want API error %s", err, tc.wantCode)
			}
		})
	}
}

// TestCreateSession_WrongSignatureRefused: a signature the stand-in must
// refuse: signed for another region than the trust anchor's, or with
// another key than the certificate's.
func TestCreateSession_WrongSignatureRefused(t *testing.T) {
	fx := rastub.NewFixture(t, rastub.Options{})
	leaf := fx.CA.Issue(rastub.LeafOptions{})
	id := load(t, leaf.Write(t.TempDir(), "leaf", rastub.PKCS8))
	c := anywhere.Client{Endpoint: fx.URL, Region: "us-east-1"}
	if _, err := c.CreateSession(context.Background(), id, input()); err == nil || !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Errorf("another region: got %v, want AccessDeniedException", err)
	}
	id.Key = fx.CA.Issue(rastub.LeafOptions{}).Key // not the certificate's
	c.Region = rastub.Region
	_, err := c.CreateSession(context.Background(), id, input())
	if err == nil || !strings.Contains(err.Error(), "signature does not match") {
		t.Errorf("another key: got %v, want signature does not match", err)
	}
}

// TestLoad_Errors: each bad file is named by its key, with what is wrong.
func TestLoad_Errors(t *testing.T) {
	ca := rastub.NewCA(t, "test CA")
	dir := t.TempDir()
	good := ca.Issue(rastub.LeafOptions{}).Write(dir, "good", rastub.PKCS8)
	otherKey := ca.Issue(rastub.LeafOptions{}).Write(dir, "other", rastub.PKCS8).PrivateKey
	ed := ca.Issue(rastub.LeafOptions{Key: rastub.Ed25519}).Write(dir, "ed", rastub.PKCS8)
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notPEM := write("notpem", "hello")
	encrypted := write("enc", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n")
	for name, tc := range map[string]struct {
		p       anywhere.Paths
		wantKey string
		want    error
	}{
		"key of another certificate": {anywhere.Paths{Certificate: good.Certificate, PrivateKey: otherKey}, anywhere.KeyPrivateKey, anywhere.ErrKeyMismatch},
		"certificate not PEM":        {anywhere.Paths{Certificate: notPEM, PrivateKey: good.PrivateKey}, anywhere.KeyCertificate, anywhere.ErrNoPEM},
		"key in the certificate key": {anywhere.Paths{Certificate: good.PrivateKey, PrivateKey: good.PrivateKey}, anywhere.KeyCertificate, anywhere.ErrNotCert},
		"certificate as the key":     {anywhere.Paths{Certificate: good.Certificate, PrivateKey: good.Certificate}, anywhere.KeyPrivateKey, anywhere.ErrNotKey},
		"chain not PEM":              {anywhere.Paths{Certificate: good.Certificate, Chain: notPEM, PrivateKey: good.PrivateKey}, anywhere.KeyChain, anywhere.ErrNoPEM},
		"missing key":                {anywhere.Paths{Certificate: good.Certificate, PrivateKey: filepath.Join(dir, "none")}, anywhere.KeyPrivateKey, os.ErrNotExist},
		"encrypted key":              {anywhere.Paths{Certificate: good.Certificate, PrivateKey: encrypted}, anywhere.KeyPrivateKey, anywhere.ErrEncrypted},
		"Ed25519 key":                {anywhere.Paths{Certificate: ed.Certificate, PrivateKey: ed.PrivateKey}, anywhere.KeyPrivateKey, anywhere.ErrKeyType},
		"key file check refuses": {anywhere.Paths{Certificate: good.Certificate, PrivateKey: good.PrivateKey,
			CheckKey: func(string) error { return os.ErrPermission }}, anywhere.KeyPrivateKey, os.ErrPermission},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := anywhere.Load(tc.p)
			var fe *anywhere.FileError
			if !errors.As(err, &fe) || fe.Key != tc.wantKey || !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want a %s error: %v", err, tc.wantKey, tc.want)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY-----") {
				t.Errorf("error shows key material: %v", err)
			}
		})
	}
}

// TestRegion: ARNs are checked and their regions must agree.
func TestRegion(t *testing.T) {
	ta, p := rastub.TrustAnchorARN, rastub.ProfileARN
	for name, tc := range map[string]struct {
		ta, p string
		want  error
	}{
		"same region":       {ta, p, nil},
		"bad trust anchor":  {"arn:aws:iam::123456789012:role/x", p, anywhere.ErrBadTrustAnchorARN},
		"profile as anchor": {p, p, anywhere.ErrBadTrustAnchorARN},
		"bad profile":       {ta, "profile/x", anywhere.ErrBadProfileARN},
		"different regions": {ta, strings.Replace(p, "eu-west-1", "us-east-2", 1), anywhere.ErrRegionMismatch},
	} {
		t.Run(name, func(t *testing.T) {
			region, err := anywhere.Region(tc.ta, tc.p)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err == nil && region != rastub.Region {
				t.Errorf("got region %q, want %q", region, rastub.Region)
			}
		})
	}
}
