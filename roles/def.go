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
	Name        string
	RoleARN     string
	Profile     string
	Region      string
	STSEndpoint string
	SessionName string
	Duration    time.Duration
	ExternalID  string
	// MFASerial names the MFA device of the source credentials: the role
	// is then assumed from a session opened with `imdsd mfa`.
	MFASerial string
	// MFADuration is how long one MFA code lasts.
	MFADuration time.Duration
	// MinRemaining is the least lifetime served credentials have.
	MinRemaining time.Duration
}

// Spec returns the resolution parameters of d. Its MFAToken is nil: no
// daemon prompts.
func (d Def) Spec() Spec {
	return Spec{
		RoleARN:     d.RoleARN,
		Profile:     d.Profile,
		Region:      d.Region,
		STSEndpoint: d.STSEndpoint,
		SessionName: d.SessionName,
		Duration:    d.Duration,
		ExternalID:  d.ExternalID,
	}
}
