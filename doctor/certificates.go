package doctor

import (
	"context"
	"fmt"
	"strings"

	"github.com/imdsd/imdsd/internal/human"
)

// checkCertificates tells of each Roles Anywhere role's certificate, as
// the daemon's last refresh read it, and fails for one that expires
// within 7 days (or has): its credentials stop at its end.
func (d *doctor) checkCertificates(context.Context) result {
	if d.status == nil {
		return skip("the daemon does not answer on its control socket")
	}
	var shown, soon []string
	for _, r := range d.status.Roles {
		c := r.Certificate
		if c == nil {
			continue
		}
		left := c.Expires.Sub(d.now())
		line := fmt.Sprintf("%s: %s (issuer %s) expires %s, in %s", r.Name, c.Subject, c.Issuer, c.Expires.Format("2006-01-02 15:04 MST"), human.Span(left))
		if left <= 0 {
			line = fmt.Sprintf("%s: %s (issuer %s) EXPIRED %s", r.Name, c.Subject, c.Issuer, c.Expires.Format("2006-01-02 15:04 MST"))
		}
		shown = append(shown, line)
		if c.ExpiresSoon || left < certWarning {
			soon = append(soon, r.Name)
		}
	}
	switch {
	case len(shown) == 0:
		return skip("no role is sourced by IAM Roles Anywhere")
	case len(soon) > 0:
		return fail("renew the certificate of "+strings.Join(soon, ", ")+" and write it (and its key) over the same files: the daemon reads them again at its next refresh, no restart",
			"%s", strings.Join(shown, "; "))
	}
	return pass("%s", strings.Join(shown, "; "))
}
