package roles

// A web-identity source (issue 18): the role is assumed with
// AssumeRoleWithWebIdentity and an OIDC token read again at every fetch
// from a file (which CI systems and Kubernetes rotate), a command's
// output, or GitHub Actions' OIDC request endpoint. The token is a secret:
// it never appears in a log, an error or the status.

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// The config keys of a web-identity source, as errors name them.
const (
	KeyWebIdentityTokenFile    = "web_identity_token_file"
	KeyWebIdentityTokenCommand = "web_identity_token_command"
	KeyWebIdentityGitHub       = "web_identity_github"
)

// DefaultWebIdentityAudience is the audience asked of GitHub's OIDC
// endpoint when web_identity_audience is not set: the one AWS's
// configure-aws-credentials action asks for.
const DefaultWebIdentityAudience = "sts.amazonaws.com"

// MaxWebIdentityToken bounds what a token source may return (AWS takes at
// most 20,000 characters).
const MaxWebIdentityToken = 64 << 10

// ErrWebIdentityToken marks a web identity token that could not be had or
// is unusable: missing, unreadable, empty or expired. Classify sorts it as
// KindWebIdentityToken.
var ErrWebIdentityToken = errors.New("web identity token unusable")

// tokenSource gets the current web identity token.
type tokenSource interface {
	// token returns the token; its errors never hold the token.
	token(ctx context.Context) (string, error)
	// String describes the source for logs and status (no secret).
	String() string
}

// IsWebIdentity tells whether d's source is a web identity token.
func (d Def) IsWebIdentity() bool {
	return d.WebIdentityTokenFile != "" || d.WebIdentityTokenCommand != "" || d.WebIdentityGitHub
}

// tokenSourceOf returns d's token source.
func tokenSourceOf(d Def) (tokenSource, error) {
	n := 0
	for _, set := range []bool{d.WebIdentityTokenFile != "", d.WebIdentityTokenCommand != "", d.WebIdentityGitHub} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, fmt.Errorf("set one of %s, %s and %s, not several", KeyWebIdentityTokenFile, KeyWebIdentityTokenCommand, KeyWebIdentityGitHub)
	}
	switch {
	case d.WebIdentityTokenFile != "":
		return tokenFile{path: d.WebIdentityTokenFile}, nil
	case d.WebIdentityTokenCommand != "":
		return tokenCommand{command: d.WebIdentityTokenCommand, timeout: TokenCommandTimeout}, nil
	case d.WebIdentityGitHub:
		return newGitHubToken(cmp.Or(d.WebIdentityAudience, DefaultWebIdentityAudience)), nil
	}
	return nil, errors.New("no web identity token source")
}

// tokenError is a token source's failure: it names the source and wraps
// ErrWebIdentityToken and the cause.
func tokenError(src tokenSource, reason string, cause error) error {
	if cause != nil {
		return fmt.Errorf("%w from %s: %s: %w", ErrWebIdentityToken, src, reason, cause)
	}
	return fmt.Errorf("%w from %s: %s", ErrWebIdentityToken, src, reason)
}

// checkToken refuses an empty token and one whose exp claim has passed.
// The claim is read without verifying the token: only STS can do that,
// this spares it a call bound to fail and says why.
func checkToken(src tokenSource, tok string, now time.Time) error {
	if tok == "" {
		return tokenError(src, "the token is empty", nil)
	}
	if len(tok) > MaxWebIdentityToken {
		return tokenError(src, fmt.Sprintf("the token is over %d bytes", MaxWebIdentityToken), nil)
	}
	if exp, ok := TokenExpiry(tok); ok && !exp.After(now) {
		return tokenError(src, "the token expired at "+exp.UTC().Format(time.RFC3339), nil)
	}
	return nil
}

// TokenExpiry returns the exp claim of a JWT, read without verifying it;
// false when tok is not a JWT or has no numeric exp.
func TokenExpiry(tok string) (time.Time, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp *float64 `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Exp == nil {
		return time.Time{}, false
	}
	sec := int64(*claims.Exp)
	return time.Unix(sec, 0), true
}

// resolveWebIdentity builds the Fetcher of a role whose source is a web
// identity token.
func resolveWebIdentity(spec Spec, region string) (Resolved, error) {
	if err := ValidateARN(spec.RoleARN); err != nil {
		return Resolved{}, err
	}
	src, err := tokenSourceOf(spec.Def)
	if err != nil {
		return Resolved{}, err
	}
	region = cmp.Or(region, FallbackRegion)
	// AssumeRoleWithWebIdentity is not signed: the token is the
	// credential, so no source credentials are loaded at all.
	client := sts.New(sts.Options{
		Region:           region,
		Credentials:      aws.AnonymousCredentials{},
		RetryMaxAttempts: 2,
		BaseEndpoint:     endpointOf(spec.STSEndpoint),
	})
	w := &webIdentity{spec: spec, src: src, client: client, now: time.Now}
	return Resolved{
		Name:      RoleName(spec.RoleARN),
		ARN:       spec.RoleARN,
		AccountID: AccountID(spec.RoleARN),
		Region:    region,
		Source:    src.String(),
		Fetcher:   FetcherFunc(w.fetch),
	}, nil
}

// endpointOf returns the BaseEndpoint option of an STS endpoint URL.
func endpointOf(u string) *string {
	if u == "" {
		return nil
	}
	return aws.String(u)
}

// webIdentity fetches a role's credentials with a fresh token each time.
type webIdentity struct {
	spec   Spec
	src    tokenSource
	client stscreds.AssumeRoleWithWebIdentityAPIClient
	now    func() time.Time
}

func (w *webIdentity) fetch(ctx context.Context) (aws.Credentials, error) {
	policy, err := w.spec.readPolicy()
	if err != nil {
		return aws.Credentials{}, err
	}
	tok, err := w.src.token(ctx)
	if err != nil {
		return aws.Credentials{}, err
	}
	if err := checkToken(w.src, tok, w.now()); err != nil {
		return aws.Credentials{}, err
	}
	p := stscreds.NewWebIdentityRoleProvider(w.client, w.spec.RoleARN, staticToken(tok), func(o *stscreds.WebIdentityRoleOptions) {
		o.RoleSessionName = cmp.Or(w.spec.SessionName, DefaultSessionName())
		o.Duration = cmp.Or(w.spec.Duration, DefaultDuration)
		if policy != "" {
			o.Policy = aws.String(policy)
		}
		o.PolicyARNs = policyARNs(w.spec.PolicyARNs)
	})
	c, err := p.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, &tokenRedacted{err: err, token: tok}
	}
	return c, nil
}

// staticToken hands one token to stscreds.
type staticToken string

func (t staticToken) GetIdentityToken() ([]byte, error) { return []byte(t), nil }

// tokenRedacted is an STS error with the token taken out of its text, in
// case whatever answers at sts_endpoint echoes the request; errors.Is and
// errors.As still see the cause.
type tokenRedacted struct {
	err   error
	token string
}

func (e *tokenRedacted) Error() string { return RedactText(e.err.Error(), e.token) }
func (e *tokenRedacted) Unwrap() error { return e.err }
