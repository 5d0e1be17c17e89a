//go:build cgo && unix

package anywhere

import (
	"crypto"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"
)

// pkcs11Signer signs with a private key that never leaves its token.
type pkcs11Signer struct {
	pub     crypto.PublicKey
	ctx     *pkcs11.Ctx
	session pkcs11.SessionHandle
	key     pkcs11.ObjectHandle
	rsa     bool

	mu sync.Mutex
}

// sha256Prefix is the DER DigestInfo header of a SHA-256 digest, which
// CKM_RSA_PKCS signs as given (PKCS#1 v1.5).
var sha256Prefix = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}

// openPKCS11 opens the token's key of u for the certificate's public key
// pub; close ends the session and unloads the module.
func openPKCS11(u PKCS11URI, pub crypto.PublicKey) (crypto.Signer, func(), error) {
	var pin string
	if u.PINSource != "" {
		b, err := os.ReadFile(u.PINSource)
		if err != nil {
			return nil, nil, fmt.Errorf("pin-source: %w", err)
		}
		pin = strings.TrimRight(string(b), "\r\n")
	}
	p := pkcs11.New(u.Module)
	if p == nil {
		return nil, nil, fmt.Errorf("module-path %s: cannot load the PKCS#11 module", u.Module)
	}
	if err := p.Initialize(); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		p.Destroy()
		return nil, nil, fmt.Errorf("initialize %s: %w", u.Module, err)
	}
	s := &pkcs11Signer{pub: pub, ctx: p}
	closeAll := func() {
		p.Finalize()
		p.Destroy()
	}
	if err := s.open(u, pin); err != nil {
		closeAll()
		return nil, nil, err
	}
	return s, func() {
		p.Logout(s.session)
		p.CloseSession(s.session)
		closeAll()
	}, nil
}

func (s *pkcs11Signer) open(u PKCS11URI, pin string) error {
	p := s.ctx
	slots, err := p.GetSlotList(true)
	if err != nil {
		return fmt.Errorf("list slots: %w", err)
	}
	slot, found := uint(0), false
	for _, sl := range slots {
		if ti, err := p.GetTokenInfo(sl); err == nil && strings.TrimRight(ti.Label, " ") == u.Token {
			slot, found = sl, true
			break
		}
	}
	if !found {
		return fmt.Errorf("no token labelled %q in %s", u.Token, u.Module)
	}
	if s.session, err = p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION); err != nil {
		return fmt.Errorf("open a session on token %q: %w", u.Token, err)
	}
	if pin != "" {
		if err := p.Login(s.session, pkcs11.CKU_USER, pin); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN)) {
			return fmt.Errorf("log in to token %q with the PIN of pin-source: %w", u.Token, err)
		}
	}
	tmpl := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY), pkcs11.NewAttribute(pkcs11.CKA_LABEL, u.Object)}
	if err := p.FindObjectsInit(s.session, tmpl); err != nil {
		return fmt.Errorf("find key %q: %w", u.Object, err)
	}
	objs, _, err := p.FindObjects(s.session, 2)
	p.FindObjectsFinal(s.session)
	if err != nil || len(objs) != 1 {
		return fmt.Errorf("token %q: want one private key labelled %q, found %d (%v)", u.Token, u.Object, len(objs), err)
	}
	s.key = objs[0]
	attrs, err := p.GetAttributeValue(s.session, s.key, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil)})
	if err != nil || len(attrs) != 1 {
		return fmt.Errorf("key %q: read its type: %v", u.Object, err)
	}
	switch kt := nativeUint(attrs[0].Value); kt {
	case pkcs11.CKK_RSA:
		s.rsa = true
	case pkcs11.CKK_EC:
	default:
		return fmt.Errorf("key %q of PKCS#11 type %d: %w", u.Object, kt, ErrKeyType)
	}
	return nil
}

// nativeUint reads a CK_ULONG attribute, in the machine's byte order.
func nativeUint(b []byte) uint64 {
	switch len(b) {
	case 8:
		return binary.NativeEndian.Uint64(b)
	case 4:
		return uint64(binary.NativeEndian.Uint32(b))
	}
	return ^uint64(0)
}

func (s *pkcs11Signer) Public() crypto.PublicKey { return s.pub }

// Sign signs a SHA-256 digest: PKCS#1 v1.5 for RSA, ASN.1 ECDSA for EC.
func (s *pkcs11Signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts.HashFunc() != crypto.SHA256 || len(digest) != sha256.Size {
		return nil, errors.New("pkcs11: only SHA-256 digests are signed")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	mech, data := pkcs11.CKM_ECDSA, digest
	if s.rsa {
		mech, data = pkcs11.CKM_RSA_PKCS, append(append([]byte{}, sha256Prefix...), digest...)
	}
	if err := s.ctx.SignInit(s.session, []*pkcs11.Mechanism{pkcs11.NewMechanism(uint(mech), nil)}, s.key); err != nil {
		return nil, fmt.Errorf("pkcs11 sign: %w", err)
	}
	sig, err := s.ctx.Sign(s.session, data)
	if err != nil {
		return nil, fmt.Errorf("pkcs11 sign: %w", err)
	}
	if s.rsa {
		return sig, nil
	}
	// CKM_ECDSA gives r || s; SigV4-X509 sends ASN.1.
	half := len(sig) / 2
	return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:half]), new(big.Int).SetBytes(sig[half:])})
}
