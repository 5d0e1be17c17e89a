package rastub

import "testing"

// ARNs of the stand-in's usual fixture.
const (
	Region         = "eu-west-1"
	TrustAnchorARN = "arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/0a1b2c3d-1111-2222-3333-444455556666"
	ProfileARN     = "arn:aws:rolesanywhere:eu-west-1:123456789012:profile/9f8e7d6c-1111-2222-3333-444455556666"
	RoleARN        = "arn:aws:iam::123456789012:role/ra-test"
)

// Fixture is a stand-in trusting one test CA, with one profile and role.
type Fixture struct {
	*Server
	CA *CA
}

// NewFixture starts a stand-in whose trust anchor TrustAnchorARN is a new
// test CA; now is its clock (nil: time.Now).
func NewFixture(t testing.TB, opts Options) *Fixture {
	t.Helper()
	ca := NewCA(t, "imdsd test root CA")
	opts.Anchors = append(opts.Anchors, Anchor{ARN: TrustAnchorARN, CA: ca.Cert})
	opts.Profiles = append(opts.Profiles, ProfileARN)
	opts.Roles = append(opts.Roles, RoleARN)
	return &Fixture{Server: New(t, opts), CA: ca}
}
