package imds

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sync"
	"sync/atomic"
	"time"
)

// Token TTL bounds, from the EC2 User Guide: "a minimum of one second and a
// maximum of six hours".
const (
	MinTokenTTL = 1 * time.Second
	MaxTokenTTL = 6 * time.Hour
)

// A token is 8 bytes of expiry (nanoseconds since the signer was made, on
// the monotonic clock, so wall-clock jumps neither extend nor cut it), 8
// bytes of serial, and the first 16 bytes of an HMAC-SHA256 over both,
// encoded as unpadded base64url: 43 characters. Nothing is stored per token,
// so a flood of token requests costs no memory.
const (
	tokenPayloadLen = 16
	tokenMACLen     = 16
	tokenRawLen     = tokenPayloadLen + tokenMACLen
)

// tokenEncoding is strict: the last character carries two padding bits,
// and a lenient decoder would accept four spellings of every token (found
// by FuzzTokenSigner_Check).
var tokenEncoding = base64.RawURLEncoding.Strict()

// tokenLen is the length of an encoded token.
var tokenLen = tokenEncoding.EncodedLen(tokenRawLen)

// tokenEncodedLen is tokenLen as a constant, for arrays: unpadded base64 of
// tokenRawLen bytes.
const tokenEncodedLen = (tokenRawLen*8 + 5) / 6

// Token validation errors.
var (
	errTokenMalformed = errors.New("malformed token")
	errTokenExpired   = errors.New("expired token")
)

// tokenSigner issues and checks stateless IMDSv2 tokens.
type tokenSigner struct {
	start  time.Time // carries a monotonic reading when made from time.Now
	now    func() time.Time
	serial atomic.Uint64
	macs   sync.Pool // *tokenMAC
	// checked remembers tokens whose MAC was verified (see check).
	checked [checkedSlots]atomic.Pointer[checkedToken]
}

// checkedSlots is the size of the verified-token cache: enough for every
// client of a busy host, each of which keeps one token for hours.
const checkedSlots = 256

// checkedToken is a token whose MAC was verified, and its expiry.
type checkedToken struct {
	tok string
	exp time.Duration
}

// checkedSlot picks tok's cache slot from its last four characters, which
// encode MAC bytes: without the key, no client can aim at a slot.
func checkedSlot(tok string) int {
	n := len(tok)
	h := uint32(tok[n-1]) | uint32(tok[n-2])<<8 | uint32(tok[n-3])<<16 | uint32(tok[n-4])<<24
	return int((h*2654435761)>>24) % checkedSlots
}

// sameToken compares two tokens of tokenLen characters in time that does
// not depend on where they differ, so that timing cannot tell a client how
// much of a cached token it guessed.
func sameToken(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var v byte
	for i := 0; i < len(a); i++ {
		v |= a[i] ^ b[i]
	}
	return v == 0
}

// tokenMAC is a pooled HMAC with its own scratch space: the payload is
// copied in before hashing, so that the caller's array does not escape to
// the heap through the hash.Hash interface (no allocation per token).
type tokenMAC struct {
	h       hash.Hash
	payload [tokenPayloadLen]byte
	sum     [sha256.Size]byte
}

// newTokenSigner makes a signer with a fresh random key.
func newTokenSigner(now func() time.Time) (*tokenSigner, error) {
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, fmt.Errorf("make token key: %w", err)
	}
	s := &tokenSigner{start: now(), now: now}
	s.macs.New = func() any { return &tokenMAC{h: hmac.New(sha256.New, key[:])} }
	return s, nil
}

func (s *tokenSigner) mac(payload []byte, out []byte) {
	m := s.macs.Get().(*tokenMAC)
	m.h.Reset()
	m.h.Write(m.payload[:copy(m.payload[:], payload)])
	sum := m.h.Sum(m.sum[:0])
	copy(out, sum[:tokenMACLen])
	s.macs.Put(m)
}

// issue returns a token valid for ttl from now.
func (s *tokenSigner) issue(ttl time.Duration) string {
	var buf [tokenEncodedLen]byte
	return string(s.appendToken(buf[:0], ttl, s.now()))
}

// appendToken appends a token valid for ttl from now to dst. The token
// handler uses it with a pooled buffer, so issuing allocates nothing.
func (s *tokenSigner) appendToken(dst []byte, ttl time.Duration, now time.Time) []byte {
	var raw [tokenRawLen]byte
	exp := now.Sub(s.start) + ttl
	binary.BigEndian.PutUint64(raw[0:8], uint64(exp))
	binary.BigEndian.PutUint64(raw[8:16], s.serial.Add(1))
	s.mac(raw[:tokenPayloadLen], raw[tokenPayloadLen:])
	return tokenEncoding.AppendEncode(dst, raw[:])
}

// check reports whether tok is a token this signer issued and that has not
// expired at now. The MAC is compared in constant time. SDKs send the same
// token for hours, so a token that passed is remembered (checked) and its
// next uses cost a constant-time compare instead of an HMAC; only tokens
// that passed are stored, so a forged token can neither enter the cache
// nor push a good one out.
func (s *tokenSigner) check(tok string, now time.Time) error {
	if len(tok) != tokenLen {
		return errTokenMalformed
	}
	slot := &s.checked[checkedSlot(tok)]
	var exp time.Duration
	if c := slot.Load(); c != nil && sameToken(c.tok, tok) {
		exp = c.exp
	} else {
		var err error
		if exp, err = s.verify(tok); err != nil {
			return err
		}
		slot.Store(&checkedToken{tok: tok, exp: exp})
	}
	if now.Sub(s.start) >= exp {
		return errTokenExpired
	}
	return nil
}

// verify checks tok's encoding and MAC and returns its expiry.
func (s *tokenSigner) verify(tok string) (time.Duration, error) {
	var enc [tokenEncodedLen]byte
	copy(enc[:], tok)
	var raw [tokenRawLen]byte
	if n, err := tokenEncoding.Decode(raw[:], enc[:]); err != nil || n != tokenRawLen {
		return 0, errTokenMalformed
	}
	var want [tokenMACLen]byte
	s.mac(raw[:tokenPayloadLen], want[:])
	if subtle.ConstantTimeCompare(want[:], raw[tokenPayloadLen:]) != 1 {
		return 0, errTokenMalformed
	}
	return time.Duration(binary.BigEndian.Uint64(raw[0:8])), nil
}

// maxTTLDigits is the length of the longest TTL accepted, "21600".
const maxTTLDigits = 5

// parseTokenTTL parses the TTL header of a token request: 1 to 5 ASCII
// digits without sign or leading zero, in 1..21600. The EC2 User Guide
// specifies "a minimum of one second and a maximum of six hours" as an
// integer header, and a request that is not valid is 400 (imds-protocol.md
// §1.1); every SDK sends plain decimal ("300" from Go, "21600" from the
// others, same section). strconv.ParseInt also took "+60" and "060" (issue
// 15 item 10); a spelling no SDK sends is refused rather than guessed at.
// How real EC2 answers those spellings is not documented.
func parseTokenTTL(v string) (time.Duration, error) {
	if v == "" {
		return 0, errors.New("missing " + HeaderTokenTTL)
	}
	if len(v) > maxTTLDigits || v[0] == '0' {
		return 0, fmt.Errorf("%s must be between 1 and 21600", HeaderTokenTTL)
	}
	n := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%s is not a decimal integer", HeaderTokenTTL)
		}
		n = n*10 + int(c-'0')
	}
	if n > int(MaxTokenTTL/time.Second) {
		return 0, fmt.Errorf("%s must be between 1 and 21600", HeaderTokenTTL)
	}
	return time.Duration(n) * time.Second, nil
}
