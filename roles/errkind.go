package roles

import (
	"context"
	"errors"
	"net"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/imdsd/imdsd/roles/anywhere"
)

// ErrorKind sorts a refresh failure by what the user has to do about it,
// for status, metrics and deciding whether a failure is new. Its string
// form is stable and may be shown to users and scripts.
type ErrorKind string

// The error kinds Classify returns.
const (
	// KindNone: no error.
	KindNone ErrorKind = "none"
	// KindNeedsMFA: the role needs an MFA code (ErrMFARequired, or a role
	// profile with mfa_serial and no terminal to ask on). Fix: imdsd mfa.
	KindNeedsMFA ErrorKind = "needs-mfa"
	// KindAccessDenied: the source credentials are valid but not allowed
	// to assume the role (AccessDenied, AccessDeniedException). Fix: the
	// role's trust policy or the source's permissions.
	KindAccessDenied ErrorKind = "access-denied"
	// KindInvalidSource: AWS does not accept the source credentials
	// themselves: the key does not exist or was deleted
	// (InvalidClientTokenId, UnrecognizedClientException,
	// InvalidAccessKeyId) or the secret is wrong (SignatureDoesNotMatch,
	// IncompleteSignature). Kept apart from KindAccessDenied because the
	// fix is different: new source keys, not a policy change.
	KindInvalidSource ErrorKind = "invalid-source"
	// KindThrottled: STS is rate limiting (Throttling, ThrottlingException,
	// RequestLimitExceeded, TooManyRequestsException and the SDK's other
	// throttle codes). The backoff handles it.
	KindThrottled ErrorKind = "throttled"
	// KindNetwork: STS could not be reached or did not answer: DNS,
	// connection refused or reset, a transport error, or the fetch timeout
	// (context.DeadlineExceeded).
	KindNetwork ErrorKind = "network"
	// KindExpiredSource: the source credentials have expired
	// (ExpiredToken, ExpiredTokenException) or the IAM Identity Center
	// session has (ssocreds.InvalidTokenError). Fix: log in again.
	KindExpiredSource ErrorKind = "expired-source"
	// KindNoSource: the SDK found no source credentials at all.
	KindNoSource ErrorKind = "no-source"
	// KindWebIdentityToken: the web identity token could not be had or is
	// unusable (ErrWebIdentityToken: missing, unreadable, empty, expired),
	// or STS refused it (InvalidIdentityToken, IDPRejectedClaim). Fix: the
	// token's source, or the role's trust policy for the token's claims.
	KindWebIdentityToken ErrorKind = "web-identity-token"
	// KindExpiredCertificate: a Roles Anywhere role's certificate has
	// expired or is not valid yet. Fix: renew it (the file is read again
	// at the next refresh).
	KindExpiredCertificate ErrorKind = "expired-certificate"
	// KindUntrustedCertificate: Roles Anywhere refuses the certificate:
	// its CA is not the trust anchor's. Fix: the trust anchor, or a
	// certificate from its CA (with certificate_chain for an
	// intermediate).
	KindUntrustedCertificate ErrorKind = "untrusted-certificate"
	// KindOther: anything else, including an AWS error code not listed
	// above (InternalFailure, say).
	KindOther ErrorKind = "other"
)

// String returns the kind's name.
func (k ErrorKind) String() string { return string(k) }

// AWS error codes by kind. Throttling also takes the SDK's own list,
// retry.DefaultThrottleErrorCodes, so a code the SDK backs off on is
// reported as throttling too.
var kindByCode = map[string]ErrorKind{
	"AccessDenied":                KindAccessDenied,
	"AccessDeniedException":       KindAccessDenied,
	"InvalidClientTokenId":        KindInvalidSource,
	"UnrecognizedClientException": KindInvalidSource,
	"InvalidAccessKeyId":          KindInvalidSource,
	"SignatureDoesNotMatch":       KindInvalidSource,
	"IncompleteSignature":         KindInvalidSource,
	"Throttling":                  KindThrottled,
	"ThrottlingException":         KindThrottled,
	"RequestLimitExceeded":        KindThrottled,
	"TooManyRequestsException":    KindThrottled,
	"ExpiredToken":                KindExpiredSource,
	"ExpiredTokenException":       KindExpiredSource,
	"InvalidIdentityToken":        KindWebIdentityToken,
	"IDPRejectedClaim":            KindWebIdentityToken,
}

// Texts of SDK and imdsd errors that have no type to match, or whose type
// was lost in a %v. Each says which code writes it, so a change there can
// be found.
var (
	// spec.go assumeOptions' TokenProvider when no terminal is attached;
	// stscreds' AssumeRoleProvider.Retrieve without a TokenProvider.
	mfaTexts = []string{"role needs an MFA code", "assume role with MFA enabled", ErrMFARequired.Error()}
	// ec2rolecreds.Provider, the default chain's last resort (which
	// loadConfig disables, so with no other source the chain ends there),
	// and credentials.StaticCredentialsEmptyError.
	noSourceTexts = []string{"no EC2 IMDS role found", "static credentials are empty"}
	// The v4 signer's and stscreds' web identity provider's wrapper of a
	// failed credentials provider: generic, so it is the last resort.
	retrieveText = "failed to retrieve credentials"
	// ssocreds.InvalidTokenError.
	ssoExpiredText = "the SSO session has expired or is invalid"
	// smithy.GenericAPIError's text: "api error CODE: message".
	apiErrorText = regexp.MustCompile(`api error ([A-Za-z0-9.]+):`)
)

// Classify returns the kind of a fetch error, KindNone for nil. It looks at
// typed errors first, with errors.Is and errors.As through every wrapper
// the SDK adds, and falls back to the texts of errors that have no type.
//
// The order matters where an error chain holds more than one cause: an
// MFA requirement or an AWS error code wins; "no EC2 IMDS role found" wins
// over the network error it may wrap (an IMDS probe that timed out means
// there is no source, not that STS is unreachable).
func Classify(err error) ErrorKind {
	var (
		api     smithy.APIError
		sso     *ssocreds.InvalidTokenError
		empty   *credentials.StaticCredentialsEmptyError
		noToken config.AssumeRoleTokenProviderNotSetError
		send    *smithyhttp.RequestSendError
		netErr  net.Error
	)
	text := ""
	if err != nil {
		text = err.Error()
	}
	switch {
	case err == nil:
		return KindNone
	case errors.Is(err, anywhere.ErrCertExpired), errors.Is(err, anywhere.ErrCertNotYet):
		return KindExpiredCertificate
	case errors.As(err, &api) && api.ErrorCode() == "AccessDeniedException" && strings.Contains(strings.ToLower(api.ErrorMessage()), "untrusted"):
		return KindUntrustedCertificate
	case errors.As(err, new(*anywhere.FileError)):
		return KindInvalidSource
	case errors.Is(err, ErrMFARequired), errors.As(err, &noToken), containsAny(text, mfaTexts):
		return KindNeedsMFA
	case errors.Is(err, ErrWebIdentityToken):
		return KindWebIdentityToken
	case errors.As(err, &sso):
		return KindExpiredSource
	case errors.As(err, &api) && api.ErrorCode() != "":
		return kindOfCode(api.ErrorCode())
	case errors.As(err, &empty), containsAny(text, noSourceTexts):
		return KindNoSource
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &send), errors.As(err, &netErr):
		return KindNetwork
	case strings.Contains(text, ssoExpiredText):
		return KindExpiredSource
	case strings.Contains(text, retrieveText):
		return KindNoSource
	}
	if m := apiErrorText.FindStringSubmatch(text); m != nil {
		return kindOfCode(m[1])
	}
	return KindOther
}

// kindOfCode returns the kind of an AWS error code.
func kindOfCode(code string) ErrorKind {
	if k, ok := kindByCode[code]; ok {
		return k
	}
	if _, ok := retry.DefaultThrottleErrorCodes[code]; ok {
		return KindThrottled
	}
	return KindOther
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// ErrorCode names a fetch failure for metrics labels: the AWS error code
// when there is one (smithy.APIError), "MFARequired" for ErrMFARequired,
// "Timeout" for a deadline, "Other" for any other error, and "" for nil.
// It replaces cmd/imdsd's fetchErrorCode, with the same contract.
func ErrorCode(err error) string {
	var api smithy.APIError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrMFARequired):
		return "MFARequired"
	case errors.As(err, &api) && api.ErrorCode() != "":
		return api.ErrorCode()
	case errors.Is(err, context.DeadlineExceeded):
		return "Timeout"
	}
	return "Other"
}
