package anywhere

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// The keys of a Roles Anywhere role, as FileError names them.
const (
	KeyCertificate = "certificate"
	KeyChain       = "certificate_chain"
	KeyPrivateKey  = "private_key"
)

// File errors, matched with errors.Is.
var (
	ErrNoPEM       = errors.New("no PEM block found: give a PEM file")
	ErrNotCert     = errors.New("not a certificate: want a PEM CERTIFICATE block")
	ErrNotKey      = errors.New("not a private key: want a PEM PRIVATE KEY (PKCS#8), RSA PRIVATE KEY (PKCS#1) or EC PRIVATE KEY (SEC1) block")
	ErrKeyType     = errors.New("the key is neither RSA nor ECDSA: Roles Anywhere signs with those only")
	ErrKeyMismatch = errors.New("the private key does not match the certificate's public key")
	ErrEncrypted   = errors.New("the private key is encrypted: give an unencrypted key file readable only by the daemon")
)

// FileError is a problem with one of a role's PEM files. Key is the config
// key that names the file.
type FileError struct {
	Key  string
	Path string
	Err  error
}

func (e *FileError) Error() string { return e.Key + " " + e.Path + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// Identity is a certificate, its chain and its key, as CreateSession
// signs with them.
type Identity struct {
	Leaf  *x509.Certificate
	Chain []*x509.Certificate
	Key   crypto.Signer
	// close releases a PKCS#11 session; nil for a key file.
	close func()
}

// Close releases what the key holds (a PKCS#11 session and module).
func (id Identity) Close() {
	if id.close != nil {
		id.close()
	}
}

// Paths names the files of an Identity. CheckKey, when set, is called with
// the private key's path before it is read (the config's trust check: the
// file owned by root or the daemon's user, not readable by others).
type Paths struct {
	Certificate string
	Chain       string
	PrivateKey  string
	CheckKey    func(path string) error
}

// Load reads the files of p again: every refresh calls it, so a rotated
// certificate and key are picked up with no restart.
func Load(p Paths) (Identity, error) {
	var id Identity
	certs, err := readCerts(KeyCertificate, p.Certificate)
	if err != nil {
		return id, err
	}
	id.Leaf, id.Chain = certs[0], certs[1:] // a bundle in the certificate file: the rest is chain
	if p.Chain != "" {
		chain, err := readCerts(KeyChain, p.Chain)
		if err != nil {
			return id, err
		}
		id.Chain = append(id.Chain, chain...)
	}
	if IsPKCS11(p.PrivateKey) {
		return loadPKCS11(id, p)
	}
	if p.CheckKey != nil {
		if err := p.CheckKey(p.PrivateKey); err != nil {
			return id, &FileError{Key: KeyPrivateKey, Path: p.PrivateKey, Err: err}
		}
	}
	key, err := readKey(p.PrivateKey)
	if err != nil {
		return id, &FileError{Key: KeyPrivateKey, Path: p.PrivateKey, Err: err}
	}
	if err := matches(key, id.Leaf); err != nil {
		return id, &FileError{Key: KeyPrivateKey, Path: p.PrivateKey, Err: err}
	}
	id.Key = key
	return id, nil
}

func readCerts(key, path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &FileError{Key: key, Path: path, Err: err}
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, &FileError{Key: key, Path: path, Err: fmt.Errorf("PEM block %q: %w", b.Type, ErrNotCert)}
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, &FileError{Key: key, Path: path, Err: fmt.Errorf("parse certificate: %w", err)}
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, &FileError{Key: key, Path: path, Err: ErrNoPEM}
	}
	return out, nil
}

func readKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, ErrNoPEM
	}
	var key any
	switch b.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(b.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, ErrEncrypted
	default:
		return nil, fmt.Errorf("PEM block %q: %w", b.Type, ErrNotKey)
	}
	if err != nil {
		// The parser's text names the format, never the key's bytes.
		return nil, fmt.Errorf("parse %s: %w", b.Type, err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return nil, fmt.Errorf("an Ed25519 key: %w", ErrKeyType)
	}
	return nil, fmt.Errorf("a %T: %w", key, ErrKeyType)
}

// loadPKCS11 opens the token key p.PrivateKey names and checks, with one
// signature, that it is the certificate's.
func loadPKCS11(id Identity, p Paths) (Identity, error) {
	bad := func(err error) (Identity, error) {
		return id, &FileError{Key: KeyPrivateKey, Path: RedactPKCS11(p.PrivateKey), Err: err}
	}
	u, err := ParsePKCS11URI(p.PrivateKey)
	if err != nil {
		return bad(err)
	}
	if u.PINSource != "" && p.CheckKey != nil {
		if err := p.CheckKey(u.PINSource); err != nil {
			return bad(fmt.Errorf("pin-source: %w", err))
		}
	}
	key, closeKey, err := openPKCS11(u, id.Leaf.PublicKey)
	if err != nil {
		return bad(err)
	}
	if err := signsFor(key, id.Leaf); err != nil {
		closeKey()
		return bad(err)
	}
	id.Key, id.close = key, closeKey
	return id, nil
}

// signsFor checks that key's signature verifies with cert's public key.
func signsFor(key crypto.Signer, cert *x509.Certificate) error {
	digest := sha256.Sum256([]byte("imdsd: does this key belong to the certificate?"))
	sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return err
	}
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil {
			return nil
		}
	case *ecdsa.PublicKey:
		if ecdsa.VerifyASN1(pub, digest[:], sig) {
			return nil
		}
	default:
		return ErrKeyType
	}
	return ErrKeyMismatch
}

// matches checks that key is the private half of cert's public key.
func matches(key crypto.Signer, cert *x509.Certificate) error {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := key.Public().(equaler)
	if !ok || !pub.Equal(cert.PublicKey) {
		return ErrKeyMismatch
	}
	return nil
}
