package roles

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// ErrNoRoleConfigured is returned when neither a role ARN nor a profile that
// names a role is given.
var ErrNoRoleConfigured = errors.New("no role to serve: give a role ARN, or a profile whose shared config has role_arn or sso_role_name")

// FallbackRegion is used for STS when no region is configured anywhere.
const FallbackRegion = "us-east-1"

// Spec is what Resolve needs of a role: its definition, and how to ask
// for an MFA code.
type Spec struct {
	Def
	// MFAToken supplies a code when the role needs MFA (mfa_serial). When
	// nil, such a role fails with a message that says so.
	MFAToken func() (string, error)
	// SourceCredentials are the credentials of the role SourceRole names
	// (the daemon's refresher of it); required when SourceRole is set.
	SourceCredentials aws.CredentialsProvider
	// CheckKeyFile, when set, vets a Roles Anywhere private key's file
	// before each read (the config's trust check).
	CheckKeyFile func(path string) error
	// Sources shares the source credentials' SDK config among the roles
	// resolved together; nil loads it for this role alone.
	Sources *SourceConfigs
}

// Resolved is a Spec made ready: what to show and how to fetch.
type Resolved struct {
	// Name is the role's name as EC2 shows it (the last part of the ARN).
	Name string
	// ARN is the role ARN, when known (not for an IAM Identity Center
	// profile, which names only the role).
	ARN string
	// AccountID is the role's account, when known.
	AccountID string
	// Region is the region STS is called in.
	Region string
	// Source tells, for logs, where the source credentials come from.
	Source  string
	Fetcher Fetcher
	// Warnings are what Resolve changed of the definition and why (a
	// chained role's duration clamped to an hour), to be logged.
	Warnings []string
	// Certificate tells of a Roles Anywhere role's certificate; nil for
	// other roles.
	Certificate *CertificateWatch
}

// Resolve reads the shared config (for a profile) and builds the Fetcher for
// spec. It makes no network call.
func Resolve(ctx context.Context, spec Spec) (Resolved, error) {
	if err := spec.checkSpec(); err != nil {
		return Resolved{}, err
	}
	var shared config.SharedConfig
	if spec.Profile != "" {
		sc, err := config.LoadSharedConfigProfile(ctx, spec.Profile, sharedFiles)
		if err != nil {
			return Resolved{}, fmt.Errorf("profile %q: %w", spec.Profile, err)
		}
		shared = sc
	}
	region := cmp.Or(spec.Region, shared.Region)

	switch {
	case spec.SourceRole != "":
		return resolveChained(spec, region)
	case spec.IsWebIdentity():
		return resolveWebIdentity(spec, region)
	case spec.TrustAnchorARN != "":
		return resolveAnywhere(spec)
	case spec.RoleARN != "":
		// Source credentials: the named profile (which may itself be a
		// role: then this is role chaining) or the default chain.
		return assumeFrom(ctx, spec, spec.Profile, region, "")
	case shared.RoleARN != "" && shared.SourceProfileName != "":
		// A role profile, resolved the way the AWS CLI does: assume
		// role_arn with source_profile's credentials and the profile's
		// external_id, mfa_serial, duration_seconds and role_session_name.
		s := spec
		s.RoleARN = shared.RoleARN
		s.ExternalID = cmp.Or(spec.ExternalID, shared.ExternalID)
		s.SessionName = cmp.Or(spec.SessionName, shared.RoleSessionName)
		if s.Duration == 0 && shared.RoleDurationSeconds != nil {
			s.Duration = *shared.RoleDurationSeconds
		}
		return assumeFrom(ctx, s, shared.SourceProfileName, region, shared.MFASerial)
	case shared.RoleARN != "" || shared.SSORoleName != "":
		// credential_source, web identity or IAM Identity Center: the SDK
		// resolves the profile to the role's own credentials.
		return direct(ctx, spec, shared, region)
	}
	return Resolved{}, ErrNoRoleConfigured
}

func assumeFrom(ctx context.Context, spec Spec, sourceProfile, region, mfaSerial string) (Resolved, error) {
	if err := ValidateARN(spec.RoleARN); err != nil {
		return Resolved{}, err
	}
	cfg, err := spec.Sources.load(ctx, sourceProfile, region)
	if err != nil {
		return Resolved{}, err
	}
	region = cmp.Or(region, cfg.Region, FallbackRegion)
	cfg.Region = region
	client := sts.NewFromConfig(cfg, func(o *sts.Options) {
		if spec.STSEndpoint != "" {
			o.BaseEndpoint = aws.String(spec.STSEndpoint)
		}
	})
	src := "default chain"
	if sourceProfile != "" {
		src = "profile " + sourceProfile
	}
	return Resolved{
		Name:      RoleName(spec.RoleARN),
		ARN:       spec.RoleARN,
		AccountID: AccountID(spec.RoleARN),
		Region:    region,
		Source:    src,
		Fetcher:   assumeFetcher(client, spec, mfaSerial),
	}, nil
}

// assumeOptions applies a Spec's parameters to stscreds options.
func assumeOptions(spec Spec, mfaSerial string) func(*stscreds.AssumeRoleOptions) {
	return func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = cmp.Or(spec.SessionName, DefaultSessionName())
		o.Duration = spec.Duration
		if o.Duration == 0 {
			// stscreds defaults to 15 minutes, exactly the botocore trap
			// (imds-protocol.md §3.6, §5.2).
			o.Duration = DefaultDuration
		}
		if spec.ExternalID != "" {
			o.ExternalID = aws.String(spec.ExternalID)
		}
		if mfaSerial != "" {
			o.SerialNumber = aws.String(mfaSerial)
			o.TokenProvider = spec.MFAToken
			if o.TokenProvider == nil {
				o.TokenProvider = func() (string, error) {
					return "", fmt.Errorf("role needs an MFA code for %s and no terminal is attached", mfaSerial)
				}
			}
		}
	}
}

func direct(ctx context.Context, spec Spec, shared config.SharedConfig, region string) (Resolved, error) {
	cfg, err := loadConfig(ctx, spec.Profile, region, func(o *stscreds.AssumeRoleOptions) {
		if o.Duration == 0 {
			o.Duration = cmp.Or(spec.Duration, DefaultDuration)
		}
		if o.RoleSessionName == "" {
			o.RoleSessionName = cmp.Or(spec.SessionName, DefaultSessionName())
		}
		if o.SerialNumber != nil && o.TokenProvider == nil {
			o.TokenProvider = spec.MFAToken
		}
	})
	if err != nil {
		return Resolved{}, err
	}
	r := Resolved{Region: cmp.Or(region, cfg.Region, FallbackRegion), Source: "profile " + spec.Profile}
	if shared.RoleARN != "" {
		r.Name, r.ARN, r.AccountID = RoleName(shared.RoleARN), shared.RoleARN, AccountID(shared.RoleARN)
	} else {
		r.Name, r.AccountID = shared.SSORoleName, shared.SSOAccountID
	}
	if r.Name == "" {
		return Resolved{}, fmt.Errorf("profile %q: role_arn %q: %w", spec.Profile, shared.RoleARN, ErrInvalidARN)
	}
	provider := cfg.Credentials
	r.Fetcher = FetcherFunc(func(ctx context.Context) (aws.Credentials, error) {
		// The SDK wraps its providers in a cache; drop the cached set so a
		// refresh is a real refresh with the real expiry.
		if c, ok := provider.(*aws.CredentialsCache); ok {
			c.Invalidate()
		}
		return provider.Retrieve(ctx)
	})
	return r, nil
}

// loadConfig loads the SDK config for a profile ("" for the default chain).
func loadConfig(ctx context.Context, profile, region string, assume func(*stscreds.AssumeRoleOptions)) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		// imdsd retries on its own schedule; keep each STS call short.
		config.WithRetryMaxAttempts(2),
		// Never take source credentials from an IMDS: on a machine where
		// imdsd owns 169.254.169.254 (or AWS_EC2_METADATA_SERVICE_ENDPOINT
		// points at it) that would be imdsd asking itself.
		config.WithEC2IMDSClientEnableState(imds.ClientDisabled),
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if assume != nil {
		opts = append(opts, config.WithAssumeRoleCredentialOptions(assume))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		if profile != "" {
			return aws.Config{}, fmt.Errorf("load source credentials from profile %q: %w", profile, err)
		}
		return aws.Config{}, fmt.Errorf("load source credentials: %w", err)
	}
	return cfg, nil
}

// sharedFiles points LoadSharedConfigProfile at the files the rest of the
// SDK reads: it defaults to ~/.aws/* and ignores AWS_CONFIG_FILE and
// AWS_SHARED_CREDENTIALS_FILE, which LoadDefaultConfig honours.
func sharedFiles(o *config.LoadSharedConfigOptions) {
	if f := os.Getenv("AWS_CONFIG_FILE"); f != "" {
		o.ConfigFiles = []string{f}
	}
	if f := os.Getenv("AWS_SHARED_CREDENTIALS_FILE"); f != "" {
		o.CredentialsFiles = []string{f}
	}
}
