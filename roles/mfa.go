package roles

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Limits of an MFA session (STS GetSessionToken).
const (
	DefaultMFASessionDuration = 12 * time.Hour
	MaxMFASessionDuration     = 36 * time.Hour
	MinMFASessionDuration     = 15 * time.Minute
)

// ErrMFARequired is the reason a role that needs MFA gives until a code is
// entered with `imdsd mfa`, and after its session has ended.
var ErrMFARequired = errors.New("role needs an MFA session: run 'imdsd mfa' with a code from your device")

// ErrInvalidMFADuration is returned for a session duration out of range.
var ErrInvalidMFADuration = errors.New("MFA session duration must be between 15m and 36h")

// MFASession holds an STS session obtained once with an MFA code
// (GetSessionToken), in memory only, and assumes roles from it on every
// refresh without asking for a code again: the pattern aws-vault uses, so
// a daemon with no terminal can serve an MFA-protected role for up to
// 36 hours per code.
type MFASession struct {
	key      string
	serial   string
	duration time.Duration
	client   *sts.Client // signs with the source credentials
	cfg      aws.Config  // the source config, for role clients
	endpoint string
	clock    Clock

	mu      sync.Mutex
	session aws.Credentials
}

// MFAOptions configure [NewMFASession].
type MFAOptions struct {
	// Serial is the MFA device's serial number or ARN.
	Serial string
	// SourceProfile names the shared-config profile of the long-term
	// credentials; "" for the default chain.
	SourceProfile string
	Region        string
	STSEndpoint   string
	// Duration of the session; DefaultMFASessionDuration when zero.
	Duration time.Duration
	Clock    Clock
}

// NewMFASession loads the source credentials' config. It makes no network
// call; Start does, with the code.
func NewMFASession(ctx context.Context, opts MFAOptions) (*MFASession, error) {
	if opts.Serial == "" {
		return nil, errors.New("roles: MFAOptions.Serial is required")
	}
	if opts.Duration == 0 {
		opts.Duration = DefaultMFASessionDuration
	}
	if opts.Duration < MinMFASessionDuration || opts.Duration > MaxMFASessionDuration {
		return nil, ErrInvalidMFADuration
	}
	if opts.Clock == nil {
		opts.Clock = SystemClock{}
	}
	cfg, err := loadConfig(ctx, opts.SourceProfile, opts.Region, nil)
	if err != nil {
		return nil, err
	}
	cfg.Region = cmp.Or(opts.Region, cfg.Region, FallbackRegion)
	return &MFASession{
		key:      mfaKey(opts),
		serial:   opts.Serial,
		duration: opts.Duration,
		client:   sts.NewFromConfig(cfg, endpointOption(opts.STSEndpoint)),
		cfg:      cfg,
		endpoint: opts.STSEndpoint,
		clock:    opts.Clock,
	}, nil
}

func endpointOption(endpoint string) func(*sts.Options) {
	return func(o *sts.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}
}

// mfaKey tells sessions apart: two roles whose sessions would be opened
// with the same device, source credentials and endpoint share one.
func mfaKey(o MFAOptions) string {
	return o.Serial + "\x00" + o.SourceProfile + "\x00" + o.Region + "\x00" + o.STSEndpoint + "\x00" + o.Duration.String()
}

// Key identifies the session's device, source credentials and endpoint.
func (m *MFASession) Key() string { return m.key }

// Serial returns the MFA device the session is for.
func (m *MFASession) Serial() string { return m.serial }

// Start calls GetSessionToken once with code and keeps the session. It
// returns the session's expiry.
func (m *MFASession) Start(ctx context.Context, code string) (time.Time, error) {
	if code == "" {
		return time.Time{}, errors.New("empty MFA code")
	}
	out, err := m.client.GetSessionToken(ctx, &sts.GetSessionTokenInput{
		SerialNumber:    aws.String(m.serial),
		TokenCode:       aws.String(code),
		DurationSeconds: aws.Int32(int32(m.duration / time.Second)),
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("get session token with MFA %s: %w", m.serial, err)
	}
	c := out.Credentials
	if c == nil || c.AccessKeyId == nil || c.SecretAccessKey == nil || c.Expiration == nil {
		return time.Time{}, errors.New("get session token: STS returned no credentials")
	}
	m.mu.Lock()
	m.session = aws.Credentials{
		AccessKeyID:     *c.AccessKeyId,
		SecretAccessKey: *c.SecretAccessKey,
		SessionToken:    aws.ToString(c.SessionToken),
		Source:          "imdsd MFA session",
		CanExpire:       true,
		Expires:         *c.Expiration,
	}
	m.mu.Unlock()
	return *c.Expiration, nil
}

// Expires returns when the session ends; zero before Start.
func (m *MFASession) Expires() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.session.Expires
}

// Retrieve hands out the session credentials to sign AssumeRole; it
// implements aws.CredentialsProvider. Without a live session it fails with
// ErrMFARequired.
func (m *MFASession) Retrieve(context.Context) (aws.Credentials, error) {
	m.mu.Lock()
	s := m.session
	m.mu.Unlock()
	if s.AccessKeyID == "" {
		return aws.Credentials{}, ErrMFARequired
	}
	if !m.clock.Now().Before(s.Expires) {
		return aws.Credentials{}, fmt.Errorf("MFA session ended at %s: %w", s.Expires.UTC().Format(time.RFC3339), ErrMFARequired)
	}
	return s, nil
}

// ResolveMFA is Resolve for a role that needs MFA: it assumes spec.RoleARN
// (or the role of spec.Profile when that profile names role_arn,
// source_profile and mfa_serial) with the session's credentials. serial
// overrides the profile's mfa_serial. It reports ok=false, and does nothing,
// when the role needs no MFA. It makes no network call. A session in
// sessions with the same Key is reused rather than opened anew, so that a
// config reload keeps the MFA session the user already entered a code for.
func ResolveMFA(ctx context.Context, spec Spec, serial string, duration time.Duration, sessions map[string]*MFASession) (r Resolved, m *MFASession, ok bool, err error) {
	source := spec.Profile
	if spec.RoleARN == "" && spec.Profile != "" {
		shared, err := config.LoadSharedConfigProfile(ctx, spec.Profile, sharedFiles)
		if err != nil {
			return Resolved{}, nil, false, fmt.Errorf("profile %q: %w", spec.Profile, err)
		}
		if shared.MFASerial == "" && serial == "" || shared.RoleARN == "" || shared.SourceProfileName == "" {
			return Resolved{}, nil, false, nil
		}
		serial = cmp.Or(serial, shared.MFASerial)
		spec.RoleARN = shared.RoleARN
		spec.Region = cmp.Or(spec.Region, shared.Region)
		spec.ExternalID = cmp.Or(spec.ExternalID, shared.ExternalID)
		spec.SessionName = cmp.Or(spec.SessionName, shared.RoleSessionName)
		if spec.Duration == 0 && shared.RoleDurationSeconds != nil {
			spec.Duration = *shared.RoleDurationSeconds
		}
		source = shared.SourceProfileName
	}
	if serial == "" {
		return Resolved{}, nil, false, nil
	}
	if err := ValidateARN(spec.RoleARN); err != nil {
		return Resolved{}, nil, false, err
	}
	opts := MFAOptions{
		Serial: serial, SourceProfile: source, Region: spec.Region,
		STSEndpoint: spec.STSEndpoint, Duration: duration,
	}
	if opts.Duration == 0 {
		opts.Duration = DefaultMFASessionDuration
	}
	if m = sessions[mfaKey(opts)]; m == nil {
		if m, err = NewMFASession(ctx, opts); err != nil {
			return Resolved{}, nil, false, err
		}
	}
	r, err = m.Resolve(spec)
	return r, m, err == nil, err
}

// Resolve builds the Fetcher that assumes spec.RoleARN with the session's
// credentials. The role's own AssumeRole carries no MFA parameters: the
// session already proves MFA (aws:MultiFactorAuthPresent is true for it).
func (m *MFASession) Resolve(spec Spec) (Resolved, error) {
	if err := ValidateARN(spec.RoleARN); err != nil {
		return Resolved{}, err
	}
	cfg := m.cfg.Copy()
	cfg.Credentials = aws.NewCredentialsCache(m)
	if spec.Region != "" {
		cfg.Region = spec.Region
	}
	client := sts.NewFromConfig(cfg, endpointOption(cmp.Or(spec.STSEndpoint, m.endpoint)))
	provider := stscreds.NewAssumeRoleProvider(client, spec.RoleARN, assumeOptions(spec, ""))
	return Resolved{
		Name:      RoleName(spec.RoleARN),
		ARN:       spec.RoleARN,
		AccountID: AccountID(spec.RoleARN),
		Region:    cfg.Region,
		Source:    "MFA session " + m.serial,
		Fetcher:   FetcherFunc(provider.Retrieve),
	}, nil
}
