package daemon

import (
	"time"

	"github.com/imdsd/imdsd/control"
	"github.com/imdsd/imdsd/roles"
)

// certificateStatus is what status shows of a Roles Anywhere role's
// certificate; nil for other roles and before a refresh read one.
func certificateStatus(w *roles.CertificateWatch, now time.Time) *control.CertificateStatus {
	if w == nil {
		return nil
	}
	info, ok := w.Last()
	if !ok {
		return nil
	}
	return &control.CertificateStatus{
		Subject: info.Subject, Issuer: info.Issuer, Serial: info.Serial,
		Expires: info.NotAfter, ExpiresSoon: info.ExpiresSoon(now),
	}
}
