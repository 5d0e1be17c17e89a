package roles

import "fmt"

// CodeAssumeRoleUnauthorized is the code real IMDS puts in a role's
// credential document when EC2 may not assume the role (IAM User Guide,
// troubleshoot_iam-ec2, "AssumeRoleUnauthorizedAccess"); the Rust and
// Kotlin SDKs treat it as a configuration error.
const CodeAssumeRoleUnauthorized = "AssumeRoleUnauthorizedAccess"

// CodeCredentialsUnavailable is the code of a failure that has no AWS
// error code of its own.
const CodeCredentialsUnavailable = "CredentialsUnavailable"

// PublicError is a role's refresh failure as SDK callers see it in the
// IMDS error document (Code and Message; the Go SDK reports both, botocore
// logs them): an error code and a fixed message per kind. It never carries
// STS's text, which may name the source user's ARN or echo secrets; that
// text is for the log and `imdsd status` (issue 15 item 9).
type PublicError struct {
	// Role is the role's name, as the caller asked for it.
	Role string
	// Kind is the failure's kind.
	Kind ErrorKind
	// Code is the code the document shows: CodeAssumeRoleUnauthorized for
	// KindAccessDenied, else STS's error code when it sent one, else
	// CodeCredentialsUnavailable.
	Code string
}

// NewPublicError returns the PublicError of a failure of role of kind with
// code (FailureError.Code, Snapshot.LastErrorCode).
func NewPublicError(role string, kind ErrorKind, code string) *PublicError {
	switch {
	case kind == KindAccessDenied:
		code = CodeAssumeRoleUnauthorized
	case code == "", code == "Other", code == "Timeout", code == "MFARequired":
		// imdsd's own labels (ErrorCode), not codes AWS sent.
		code = CodeCredentialsUnavailable
	case !errorCodeShape.MatchString(code):
		code = CodeCredentialsUnavailable
	}
	return &PublicError{Role: role, Kind: kind, Code: code}
}

// ErrorCode returns the code the IMDS error document shows.
func (e *PublicError) ErrorCode() string { return e.Code }

// Error returns the fixed message of the failure's kind: what is wrong
// and what to do, in words that hold no text from STS.
func (e *PublicError) Error() string {
	r := e.Role
	switch e.Kind {
	case KindNeedsMFA:
		return "role " + r + " needs an MFA code: run 'imdsd mfa' on this host"
	case KindAccessDenied:
		return "imdsd may not assume role " + r + " (access denied): check the role's trust policy and the source credentials' permissions; 'imdsd status' shows STS's answer"
	case KindInvalidSource:
		return "AWS does not accept the source credentials of role " + r + ": replace them; 'imdsd status' shows STS's answer"
	case KindThrottled:
		return "STS is throttling the refresh of role " + r + "; imdsd retries with backoff"
	case KindNetwork:
		return "imdsd cannot reach STS to refresh role " + r + "; it retries with backoff"
	case KindExpiredSource:
		return "the source credentials of role " + r + " have expired: log in again (aws sso login) or renew them"
	case KindExpiredCertificate:
		return "the Roles Anywhere certificate of role " + r + " has expired or is not valid yet: renew it; imdsd reads the new file at its next refresh"
	case KindUntrustedCertificate:
		return "IAM Roles Anywhere does not trust the certificate of role " + r + ": it must chain to the trust anchor's CA (give intermediates in certificate_chain)"
	case KindNoSource:
		return NoSourceHint(r)
	}
	return "imdsd cannot get credentials for role " + r + "; 'imdsd status' and the imdsd log show why"
}

// PublicErr returns why nothing is served now, as SDK callers may see it;
// nil when s serves credentials. A refresh failure becomes a PublicError;
// imdsd's own reasons (ErrNotReady, a set about to expire with no failure
// yet) hold no outside text and are kept, prefixed with the role.
func (s Snapshot) PublicErr(role string) error {
	switch {
	case s.Err == nil:
		return nil
	case s.LastError == nil:
		return fmt.Errorf("role %s: %w", role, s.Err)
	}
	return NewPublicError(role, s.LastErrorKind, s.LastErrorCode)
}
