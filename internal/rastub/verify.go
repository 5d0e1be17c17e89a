package rastub

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The stand-in's own reading of SigV4-X509, written from the service's
// description and AWS's helper, not shared with imdsd's signer
// (roles/anywhere/sign.go): a test where both came from one function
// would prove nothing.

const (
	algRSA   = "AWS4-X509-RSA-SHA256"
	algECDSA = "AWS4-X509-ECDSA-SHA256"
	// maxSkew is SigV4's window for X-Amz-Date.
	maxSkew = 5 * time.Minute
)

var authPattern = regexp.MustCompile(`^(AWS4-X509-[A-Z]+-SHA256) Credential=(\d+)/(\d{8})/([a-z0-9-]+)/rolesanywhere/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]+)$`)

type verified struct {
	algorithm string
	region    string
	leaf      *x509.Certificate
	chain     []*x509.Certificate
}

// verify checks the signature of r, whose body is body.
func verify(r *http.Request, body []byte, now time.Time) (verified, error) {
	var v verified
	m := authPattern.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return v, fmt.Errorf("missing or malformed SigV4-X509 Authorization header")
	}
	alg, serial, scopeDate, region, signedList, sigHex := m[1], m[2], m[3], m[4], m[5], m[6]
	v.algorithm, v.region = alg, region
	date, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return v, fmt.Errorf("X-Amz-Date %q: not yyyymmddThhmmssZ", r.Header.Get("X-Amz-Date"))
	}
	if date.Format("20060102") != scopeDate {
		return v, fmt.Errorf("credential scope date %s is not X-Amz-Date's", scopeDate)
	}
	if d := now.Sub(date); d > maxSkew || d < -maxSkew {
		return v, fmt.Errorf("signature date %s is more than %s from the service's clock", date.Format(time.RFC3339), maxSkew)
	}
	v.leaf, err = parseCert(r.Header.Get("X-Amz-X509"))
	if err != nil {
		return v, fmt.Errorf("X-Amz-X509: %v", err)
	}
	if v.leaf.SerialNumber.String() != serial {
		return v, fmt.Errorf("credential %s is not the certificate's serial number %s", serial, v.leaf.SerialNumber)
	}
	if ch := r.Header.Get("X-Amz-X509-Chain"); ch != "" {
		for _, part := range strings.Split(ch, ",") {
			c, err := parseCert(part)
			if err != nil {
				return v, fmt.Errorf("X-Amz-X509-Chain: %v", err)
			}
			v.chain = append(v.chain, c)
		}
	}
	signed := strings.Split(signedList, ";")
	for _, need := range []string{"host", "x-amz-date", "x-amz-x509"} {
		if !slices.Contains(signed, need) {
			return v, fmt.Errorf("SignedHeaders lacks %s", need)
		}
	}
	if r.Header.Get("X-Amz-X509-Chain") != "" && !slices.Contains(signed, "x-amz-x509-chain") {
		return v, fmt.Errorf("SignedHeaders lacks x-amz-x509-chain")
	}
	if !slices.IsSorted(signed) {
		return v, fmt.Errorf("SignedHeaders is not sorted")
	}
	sts := alg + "\n" + r.Header.Get("X-Amz-Date") + "\n" + scopeDate + "/" + region + "/rolesanywhere/aws4_request\n" + canonicalHash(r, body, signed)
	sig, err := hex.DecodeString(sigHex)
	if err != nil {
		return v, fmt.Errorf("signature is not hex")
	}
	digest := sha256.Sum256([]byte(sts))
	switch pub := v.leaf.PublicKey.(type) {
	case *rsa.PublicKey:
		if alg != algRSA {
			return v, fmt.Errorf("algorithm %s with an RSA certificate", alg)
		}
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
			return v, fmt.Errorf("signature does not match: the request was changed or signed with another key")
		}
	case *ecdsa.PublicKey:
		if alg != algECDSA {
			return v, fmt.Errorf("algorithm %s with an EC certificate", alg)
		}
		if !ecdsa.VerifyASN1(pub, digest[:], sig) {
			return v, fmt.Errorf("signature does not match: the request was changed or signed with another key")
		}
	default:
		return v, fmt.Errorf("certificate key %T: only RSA and EC keys are supported", v.leaf.PublicKey)
	}
	return v, nil
}

// canonicalHash is the hex SHA-256 of r's canonical request over the
// signed headers.
func canonicalHash(r *http.Request, body []byte, signed []string) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	b.WriteString(r.URL.EscapedPath() + "\n")
	b.WriteString(strings.ReplaceAll(r.URL.Query().Encode(), "+", "%20") + "\n")
	for _, h := range signed {
		b.WriteString(h + ":" + collapse(headerValue(r, h)) + "\n")
	}
	b.WriteString("\n" + strings.Join(signed, ";") + "\n")
	sum := sha256.Sum256(body)
	b.WriteString(hex.EncodeToString(sum[:]))
	h := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(h[:])
}

// headerValue is a signed header's value as the client had it: net/http
// moves Host (and may move Content-Length) out of the header map.
func headerValue(r *http.Request, name string) string {
	switch name {
	case "host":
		return r.Host
	case "content-length":
		if v := r.Header.Get("Content-Length"); v != "" {
			return v
		}
		return strconv.FormatInt(r.ContentLength, 10)
	}
	return strings.Join(r.Header.Values(name), ",")
}

func collapse(s string) string {
	s = strings.Trim(s, " ")
	for strings.Contains(s, "  ") {
		s = strings.ReplaceAll(s, "  ", " ")
	}
	return s
}

func parseCert(b64 string) (*x509.Certificate, error) {
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, fmt.Errorf("not base64 DER")
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("not a certificate: %v", err)
	}
	return c, nil
}

// verifyChain checks leaf up to ca through chain at now.
func verifyChain(leaf *x509.Certificate, chain []*x509.Certificate, ca *x509.Certificate, now time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	inter := x509.NewCertPool()
	for _, c := range chain {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return fmt.Errorf("untrusted signing certificate: %v", err)
	}
	return nil
}
