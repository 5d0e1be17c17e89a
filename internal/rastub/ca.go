package rastub

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// KeyType picks the key of a certificate made by a CA.
type KeyType int

// The key types.
const (
	EC KeyType = iota
	RSA
	Ed25519
)

// CA is a certificate authority made for a test: a trust anchor's CA, or
// an intermediate.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	t    testing.TB
}

var serial = new(big.Int).Lsh(big.NewInt(1), 100)

func nextSerial() *big.Int {
	n, err := rand.Int(rand.Reader, serial)
	if err != nil {
		panic(err)
	}
	return n.Add(n, big.NewInt(1))
}

func newKey(t testing.TB, kt KeyType) crypto.Signer {
	t.Helper()
	var (
		k   crypto.Signer
		err error
	)
	switch kt {
	case RSA:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case Ed25519:
		k, err = newEd25519()
	default:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	return k
}

// NewCA makes a self-signed root CA named cn.
func NewCA(t testing.TB, cn string) *CA {
	t.Helper()
	key := newKey(t, EC)
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"imdsd tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("create CA: %v", err)
	}
	c, _ := x509.ParseCertificate(der)
	return &CA{Cert: c, Key: key, t: t}
}

// Intermediate makes a CA signed by ca.
func (ca *CA) Intermediate(cn string) *CA {
	ca.t.Helper()
	key := newKey(ca.t, EC)
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"imdsd tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(5 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		ca.t.Fatalf("create intermediate: %v", err)
	}
	c, _ := x509.ParseCertificate(der)
	return &CA{Cert: c, Key: key, t: ca.t}
}

// Leaf is an end-entity certificate and its key.
type Leaf struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// LeafOptions shape a leaf; the zero value is an EC leaf valid for a day.
type LeafOptions struct {
	CN        string
	Key       KeyType
	NotBefore time.Time
	NotAfter  time.Time
}

// Issue makes a leaf signed by ca.
func (ca *CA) Issue(o LeafOptions) Leaf {
	ca.t.Helper()
	key := newKey(ca.t, o.Key)
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Now().Add(24 * time.Hour)
	}
	if o.CN == "" {
		o.CN = "host.example.test"
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkix.Name{CommonName: o.CN, Organization: []string{"imdsd tests"}},
		NotBefore:    o.NotBefore,
		NotAfter:     o.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		ca.t.Fatalf("create leaf: %v", err)
	}
	c, _ := x509.ParseCertificate(der)
	return Leaf{Cert: c, Key: key}
}

// KeyFormat picks the PEM encoding of a private key.
type KeyFormat int

// The key formats.
const (
	PKCS8 KeyFormat = iota
	PKCS1           // RSA keys only
	SEC1            // EC keys only
)

// Files are the PEM files of a leaf.
type Files struct {
	Certificate, Chain, PrivateKey string
}

// Write writes l's certificate, the chain (if any) and its key (mode
// 0600) into dir under name, and returns their paths.
func (l Leaf) Write(dir, name string, format KeyFormat, chain ...*x509.Certificate) Files {
	f := Files{
		Certificate: filepath.Join(dir, name+".crt"),
		PrivateKey:  filepath.Join(dir, name+".key"),
	}
	WriteFile(f.Certificate, CertPEM(l.Cert), 0o644)
	if len(chain) > 0 {
		f.Chain = filepath.Join(dir, name+"-chain.pem")
		WriteFile(f.Chain, CertPEM(chain...), 0o644)
	}
	WriteFile(f.PrivateKey, KeyPEM(l.Key, format), 0o600)
	return f
}

// CertPEM encodes certificates as PEM.
func CertPEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// KeyPEM encodes a private key as PEM in format.
func KeyPEM(key crypto.Signer, format KeyFormat) []byte {
	var (
		b   *pem.Block
		err error
	)
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if format == PKCS1 {
			b = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
		}
	case *ecdsa.PrivateKey:
		if format == SEC1 {
			var der []byte
			der, err = x509.MarshalECPrivateKey(k)
			b = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
		}
	}
	if b == nil && err == nil {
		var der []byte
		der, err = x509.MarshalPKCS8PrivateKey(key)
		b = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(b)
}

// WriteFile writes data to path atomically (a rename), as a certificate
// rotation does.
func WriteFile(path string, data []byte, mode os.FileMode) {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		panic(err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		panic(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		panic(err)
	}
}
