package anywhere

import (
	"crypto/x509"
	"time"
)

// ExpiryWarning is how close to its end a certificate is warned about.
const ExpiryWarning = 7 * 24 * time.Hour

// CertInfo is what status and doctor show of a role's certificate.
type CertInfo struct {
	Subject  string
	Issuer   string
	Serial   string
	NotAfter time.Time
}

// InfoOf returns c's CertInfo.
func InfoOf(c *x509.Certificate) CertInfo {
	return CertInfo{Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: c.SerialNumber.String(), NotAfter: c.NotAfter.UTC()}
}

// ExpiresSoon reports whether the certificate ends within ExpiryWarning
// of now.
func (i CertInfo) ExpiresSoon(now time.Time) bool {
	return !i.NotAfter.IsZero() && i.NotAfter.Sub(now) < ExpiryWarning
}
