package anywhere

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// SigV4-X509, as AWS's helper signs (aws_signing_helper/signer.go):
// SigV4's canonical request and string to sign, with the certificate's
// serial number for the access key and the certificate's private key for
// the HMAC chain.
const (
	AlgorithmRSA   = "AWS4-X509-RSA-SHA256"
	AlgorithmECDSA = "AWS4-X509-ECDSA-SHA256"

	HeaderDate          = "X-Amz-Date"
	HeaderX509          = "X-Amz-X509"
	HeaderX509Chain     = "X-Amz-X509-Chain"
	HeaderAuthorization = "Authorization"

	// Service is the signing name of CreateSession.
	Service = "rolesanywhere"
	// TimeFormat is X-Amz-Date's format; DateFormat the scope's.
	TimeFormat = "20060102T150405Z"
	DateFormat = "20060102"
)

// Algorithm returns the signing algorithm of a key.
func Algorithm(key crypto.Signer) (string, error) {
	switch key.Public().(type) {
	case *rsa.PublicKey:
		return AlgorithmRSA, nil
	case *ecdsa.PublicKey:
		return AlgorithmECDSA, nil
	}
	return "", ErrKeyType
}

// Scope is the credential scope of a signature made at t in region.
func Scope(t time.Time, region string) string {
	return t.UTC().Format(DateFormat) + "/" + region + "/" + Service + "/aws4_request"
}

// Sign signs req, whose body is body, for region at time now: it sets
// Host, X-Amz-Date, X-Amz-X509, X-Amz-X509-Chain (when there is a chain)
// and Authorization. Every header req has then is signed.
func Sign(req *http.Request, body []byte, id Identity, region string, now time.Time) error {
	alg, err := Algorithm(id.Key)
	if err != nil {
		return err
	}
	now = now.UTC()
	req.Header.Set("Host", req.URL.Host)
	req.Header.Set(HeaderDate, now.Format(TimeFormat))
	req.Header.Set(HeaderX509, base64.StdEncoding.EncodeToString(id.Leaf.Raw))
	if len(id.Chain) > 0 {
		req.Header.Set(HeaderX509Chain, chainHeader(id.Chain))
	}
	canonical, signed := canonicalRequest(req, body)
	sts := stringToSign(alg, now, region, canonical)
	digest := sha256.Sum256([]byte(sts))
	sig, err := id.Key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return fmt.Errorf("sign CreateSession with the private key: %w", err)
	}
	req.Header.Set(HeaderAuthorization, alg+" Credential="+id.Leaf.SerialNumber.String()+"/"+Scope(now, region)+
		", SignedHeaders="+signed+", Signature="+hex.EncodeToString(sig))
	// The header map held Host only to be signed: net/http sends req.Host.
	req.Header.Del("Host")
	return nil
}

func chainHeader(chain []*x509.Certificate) string {
	parts := make([]string, len(chain))
	for i, c := range chain {
		parts[i] = base64.StdEncoding.EncodeToString(c.Raw)
	}
	return strings.Join(parts, ",")
}

// canonicalRequest returns the hex SHA-256 of req's canonical request and
// its signed headers list.
func canonicalRequest(req *http.Request, body []byte) (string, string) {
	names := make([]string, 0, len(req.Header))
	values := map[string][]string{}
	for k, v := range req.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Authorization", "User-Agent", "X-Amzn-Trace-Id":
			continue
		}
		lk := strings.ToLower(k)
		if _, ok := values[lk]; !ok {
			names = append(names, lk)
		}
		values[lk] = append(values[lk], v...)
	}
	sort.Strings(names)
	lines := make([]string, len(names))
	for i, n := range names {
		lines[i] = n + ":" + strings.Join(strings.Fields(strings.Join(values[n], ",")), " ")
	}
	bodyHash := sha256.Sum256(body)
	signed := strings.Join(names, ";")
	cr := strings.Join([]string{
		req.Method,
		req.URL.EscapedPath(),
		strings.ReplaceAll(req.URL.Query().Encode(), "+", "%20"),
		strings.Join(lines, "\n") + "\n",
		signed,
		hex.EncodeToString(bodyHash[:]),
	}, "\n")
	sum := sha256.Sum256([]byte(cr))
	return hex.EncodeToString(sum[:]), signed
}

func stringToSign(alg string, t time.Time, region, canonicalHash string) string {
	return alg + "\n" + t.Format(TimeFormat) + "\n" + Scope(t, region) + "\n" + canonicalHash
}
