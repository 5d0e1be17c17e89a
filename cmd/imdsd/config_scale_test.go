package main

// config check of many roles must cost the same per role whatever their
// number (issue 19: 5,000 roles took 13.9 s and 2.2 GB, each role loading
// its own SDK config and parsing AWS_CA_BUNDLE into its own HTTP client).

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeRolesConfig writes a config of n named roles, each with its own
// ARN, region and session name, and returns its path.
func writeRolesConfig(tb testing.TB, n int) string {
	tb.Helper()
	var b strings.Builder
	b.WriteString("roles:\n")
	for i := range n {
		fmt.Fprintf(&b, "  role%d: {role_arn: 'arn:aws:iam::123456789012:role/role%d', region: us-east-1, session_name: s%d}\n", i, i, i)
	}
	path := filepath.Join(tb.TempDir(), fmt.Sprintf("roles-%d.yaml", n))
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// scaleEnv points the SDK at empty shared files and at a CA bundle, as on
// a host with AWS_CA_BUNDLE set: loading an SDK config parses it, which
// is what made a config of many roles cost a load per role.
func scaleEnv(tb testing.TB) {
	tb.Helper()
	tb.Setenv("AWS_CONFIG_FILE", os.DevNull)
	tb.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	// Sixteen certificates: a system bundle has about 150.
	var bundle []byte
	for i := range 16 {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 1)), Subject: pkix.Name{CommonName: fmt.Sprintf("imdsd test CA %d", i)},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			tb.Fatal(err)
		}
		bundle = append(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	ca := filepath.Join(tb.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, bundle, 0o600); err != nil {
		tb.Fatal(err)
	}
	tb.Setenv("AWS_CA_BUNDLE", ca)
}

func checkRolesConfig(tb testing.TB, path string) {
	var errOut strings.Builder
	if code := runConfigCheck(context.Background(), []string{path}, io.Discard, &errOut); code != exitOK {
		tb.Fatalf("config check %s: exit %d: %s", path, code, errOut.String())
	}
}

// maxAllocsPerRole bounds what config check allocates per role: decoding
// and validating the role, resolving it (its STS client and refresher)
// and printing it (about 160 today). Loading an SDK config per role, as
// before issue 19, cost over 1,000 with this test's CA bundle.
const maxAllocsPerRole = 300

// TestConfigCheck_LinearInRoles counts allocations (deterministic, unlike
// time) of config check for 100 and 1,000 roles: per role they must stay
// flat (a cost per pair of roles shows as growth) and small.
func TestConfigCheck_LinearInRoles(t *testing.T) {
	scaleEnv(t)
	perRole := map[int]float64{}
	for _, n := range []int{100, 1000} {
		path := writeRolesConfig(t, n)
		allocs := testing.AllocsPerRun(2, func() { checkRolesConfig(t, path) })
		perRole[n] = allocs / float64(n)
		t.Logf("%d roles: %.0f allocations, %.1f per role", n, allocs, perRole[n])
		if perRole[n] > maxAllocsPerRole {
			t.Errorf("%d roles: %.1f allocations per role, want at most %d", n, perRole[n], maxAllocsPerRole)
		}
	}
	// The fixed cost (the key table, the SDK's first load) is spread over
	// more roles at 1,000, so a linear check allocates no more per role.
	if r := perRole[1000] / perRole[100]; r > 1.1 {
		t.Errorf("allocations per role grow with the number of roles: %.1f at 1000 roles, %.1f at 100 (×%.2f, want ≤ 1.1)", perRole[1000], perRole[100], r)
	}
}

// BenchmarkConfigCheck reports the time and memory of config check per
// role for 100, 1,000 and 5,000 roles: flat per role when linear.
func BenchmarkConfigCheck(b *testing.B) {
	scaleEnv(b)
	for _, n := range []int{100, 1000, 5000} {
		path := writeRolesConfig(b, n)
		b.Run(fmt.Sprintf("roles=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				checkRolesConfig(b, path)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/role")
		})
	}
}
