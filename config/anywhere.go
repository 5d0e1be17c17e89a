package config

import (
	"errors"

	"github.com/imdsd/imdsd/roles"
	"github.com/imdsd/imdsd/roles/anywhere"
)

// Roles Anywhere errors.
var (
	ErrAnywhereMissing = errors.New("an IAM Roles Anywhere role needs role_arn, trust_anchor_arn, profile_arn, certificate and private_key")
	ErrAnywhereProfile = errors.New("a Roles Anywhere role takes no profile: its certificate is its source; remove profile")
)

// validateAnywhere checks a Roles Anywhere role's keys: the ARNs and
// their region, the endpoint, and the files, read as every refresh reads
// them (a key that does not match the certificate, a PEM of the wrong
// type, a private key others may read).
func validateAnywhere(d roles.Def, bad func(name, value string, err error) error) error {
	if d.TrustAnchorARN == "" && d.ProfileARN == "" && d.Certificate == "" && d.CertificateChain == "" && d.PrivateKey == "" && d.RolesAnywhereEndpoint == "" {
		return nil
	}
	for _, k := range []struct{ name, value string }{
		{"trust_anchor_arn", d.TrustAnchorARN}, {"profile_arn", d.ProfileARN},
		{"certificate", d.Certificate}, {"private_key", d.PrivateKey}, {"role_arn", d.RoleARN},
	} {
		if k.value == "" {
			return bad(k.name, "", ErrAnywhereMissing)
		}
	}
	if d.Profile != "" {
		return bad("profile", d.Profile, ErrAnywhereProfile)
	}
	if _, err := anywhere.ARNRegion(d.TrustAnchorARN, "trust-anchor"); err != nil {
		return bad("trust_anchor_arn", d.TrustAnchorARN, anywhere.ErrBadTrustAnchorARN)
	}
	if _, err := anywhere.ARNRegion(d.ProfileARN, "profile"); err != nil {
		return bad("profile_arn", d.ProfileARN, anywhere.ErrBadProfileARN)
	}
	region, err := anywhere.Region(d.TrustAnchorARN, d.ProfileARN)
	if err != nil {
		return bad("profile_arn", d.ProfileARN, err)
	}
	if d.Region != "" && d.Region != region {
		return bad("region", d.Region, ErrAnywhereRegion(region))
	}
	if d.RolesAnywhereEndpoint != "" && roles.ValidateEndpoint(d.RolesAnywhereEndpoint) != nil {
		return bad("rolesanywhere_endpoint", d.RolesAnywhereEndpoint, roles.ErrInvalidEndpoint)
	}
	id, err := anywhere.Load(anywhere.Paths{Certificate: d.Certificate, Chain: d.CertificateChain, PrivateKey: d.PrivateKey, CheckKey: CheckKeyFile})
	id.Close()
	var fe *anywhere.FileError
	if errors.As(err, &fe) {
		return bad(fe.Key, fe.Path, fe.Err)
	}
	return err
}

// ErrAnywhereRegion is the error of a region key that is not the trust
// anchor's.
func ErrAnywhereRegion(trustAnchor string) error {
	return &regionError{want: trustAnchor}
}

type regionError struct{ want string }

func (e *regionError) Error() string {
	return "a Roles Anywhere role is in its trust anchor's region, " + e.want + ": set region: " + e.want + " or remove it"
}

func (e *regionError) Is(target error) bool { return target == anywhere.ErrRegionMismatch }
