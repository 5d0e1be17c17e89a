package anywhere

import (
	"errors"
	"fmt"
	"regexp"
)

// ARN errors, matched with errors.Is.
var (
	ErrBadTrustAnchorARN = errors.New("not a Roles Anywhere trust anchor ARN (want arn:aws:rolesanywhere:REGION:123456789012:trust-anchor/ID)")
	ErrBadProfileARN     = errors.New("not a Roles Anywhere profile ARN (want arn:aws:rolesanywhere:REGION:123456789012:profile/ID)")
	ErrRegionMismatch    = errors.New("the trust anchor and the profile must be in the same region")
)

var resourceARN = regexp.MustCompile(`^arn:aws(-[a-z]+)*:rolesanywhere:([a-z]{2}(-[a-z]+)+-\d):(\d{12}):(trust-anchor|profile)/([0-9A-Za-z-]{1,64})$`)

// ARNRegion returns the region of a trust anchor ARN (kind "trust-anchor")
// or a profile ARN (kind "profile"), or an error saying what is wrong.
func ARNRegion(arn, kind string) (string, error) {
	bad := ErrBadProfileARN
	if kind == "trust-anchor" {
		bad = ErrBadTrustAnchorARN
	}
	m := resourceARN.FindStringSubmatch(arn)
	if m == nil || m[5] != kind {
		return "", fmt.Errorf("%q: %w", arn, bad)
	}
	return m[2], nil
}

// Region returns the one region of a trust anchor and a profile: CreateSession
// is called there.
func Region(trustAnchorARN, profileARN string) (string, error) {
	ta, err := ARNRegion(trustAnchorARN, "trust-anchor")
	if err != nil {
		return "", err
	}
	p, err := ARNRegion(profileARN, "profile")
	if err != nil {
		return "", err
	}
	if ta != p {
		return "", fmt.Errorf("trust anchor in %s, profile in %s: %w", ta, p, ErrRegionMismatch)
	}
	return ta, nil
}
