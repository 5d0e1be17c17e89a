package roles

import "time"

// Def is one role as the config defines it, before resolution. It is the
// one role type that config, reload and the refresher share, and it is
// comparable with ==: a reload keeps a running role exactly when its Def
// is equal to the new one, so a field added here is compared with no code
// to forget (TestDef_EveryFieldCounts).
type Def struct {
	// Name is the role's config name (a key of roles:); "" for the flat
	// role, which is named after its ARN.
	Name string
	// RoleARN is the role to assume. When empty, Profile must name a
	// shared-config profile with role_arn (and source_profile) or an IAM
	// Identity Center profile with sso_role_name.
	RoleARN string
	// Profile names the shared-config profile of the source credentials;
	// empty means the SDK's default chain.
	Profile string
	// Region is the STS region; the profile's or FallbackRegion when empty.
	Region string
	// STSEndpoint overrides the STS endpoint URL.
	STSEndpoint string
	// SessionName is the role session name; the profile's
	// role_session_name or DefaultSessionName() when empty.
	SessionName string
	// Duration is the session length; the profile's duration_seconds or
	// DefaultDuration when zero.
	Duration time.Duration
	// ExternalID is passed to AssumeRole; the profile's external_id when
	// empty.
	ExternalID string
	// MFASerial names the MFA device of the source credentials: the role
	// is then assumed from a session opened with `imdsd mfa`.
	MFASerial string
	// MFADuration is how long one MFA code lasts.
	MFADuration time.Duration
	// MinRemaining is the least lifetime served credentials have.
	MinRemaining time.Duration

	// WebIdentityTokenFile, WebIdentityTokenCommand and WebIdentityGitHub
	// (one of them) make the source a web identity token, read again at
	// every fetch, for AssumeRoleWithWebIdentity (webidentity.go).
	WebIdentityTokenFile    string
	WebIdentityTokenCommand string
	WebIdentityGitHub       bool
	// WebIdentityAudience is the audience asked of GitHub's OIDC endpoint;
	// DefaultWebIdentityAudience when empty.
	WebIdentityAudience string
	// SourceRole names another role of the daemon whose credentials are
	// this role's source (chain.go).
	SourceRole string
	// Tags are the session tags; TransitiveTagKeys those of them passed
	// on to chained sessions (assumeparams.go).
	Tags              Tags
	TransitiveTagKeys List
	// SourceIdentity is AssumeRole's SourceIdentity.
	SourceIdentity string
	// PolicyFile is a file of an inline JSON session policy, read again at
	// every fetch; PolicyARNs are managed session policies.
	PolicyFile string
	PolicyARNs List
	// IAM Roles Anywhere (roles/anywhere): when TrustAnchorARN is set,
	// RoleARN is assumed through CreateSession, signed with the
	// certificate and private key read from these PEM files at every
	// refresh.
	Certificate           string
	CertificateChain      string
	PrivateKey            string
	TrustAnchorARN        string
	ProfileARN            string
	RolesAnywhereEndpoint string
}

// Spec returns d as Resolve takes it. Its MFAToken is nil: no daemon
// prompts.
func (d Def) Spec() Spec { return Spec{Def: d} }
