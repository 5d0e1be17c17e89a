package roles

// Refresh failures made safe to keep, log and show (issue 15 item 9). STS,
// or whatever answers at sts_endpoint, writes the text of an error: a 5 MB
// message became a 5 MB IMDS document, 20 MB of log and a status reply over
// the control socket's 1 MiB cap, and an endpoint that echoes the request
// put the source session token, the access key ID and the external ID in
// all of them. A Refresher keeps only a FailureError: the kind and code of
// the failure and its text with every secret imdsd knows of, and anything
// shaped like one, redacted and the rest cut to MaxErrorText.

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go"
)

// MaxErrorText is the most bytes of a failure's text a Refresher keeps,
// logs and shows, before the note of how much was cut.
const MaxErrorText = 1024

// maxScan bounds the text the shape patterns run over: past it nothing
// survives the cut to MaxErrorText anyway, whatever is redacted before.
const maxScan = 64 << 10

// Redacted stands for a value taken out of a text.
const Redacted = "[redacted]"

var (
	// accessKeyID matches the access key IDs of credentials: long-term
	// (AKIA) and temporary (ASIA) keys, and the rarer ABIA and ACCA.
	accessKeyID = regexp.MustCompile(`\b(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{12}([A-Z0-9]{4})`)
	// secretRun matches runs of base64 (raw or URL-encoded) long enough to
	// be a secret access key (40 characters) or a session token (hundreds):
	// isSecretShaped decides.
	secretRun = regexp.MustCompile(`(?:[A-Za-z0-9+/_]|%2[BbFf]){40,}(?:=|%3[Dd]){0,2}`)
	// errorCodeShape is what an AWS error code looks like.
	errorCodeShape = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._:-]{0,63}$`)
)

// RedactText returns text with secrets (each exact value, raw and
// URL-encoded) replaced by Redacted, then access key IDs cut to their
// prefix and last four characters, and base64 runs shaped like a secret
// key, a session token or a request signature replaced by Redacted.
// Control characters become spaces and invalid UTF-8 is replaced, so the
// text is safe on a terminal and in a log line. It does not bound the
// length: see BoundText.
func RedactText(text string, secrets ...string) string {
	for _, s := range secrets {
		if s == "" {
			continue
		}
		text = strings.ReplaceAll(text, s, Redacted)
		if q := url.QueryEscape(s); q != s {
			text = strings.ReplaceAll(text, q, Redacted)
		}
	}
	if len(text) > maxScan {
		// Cut before the patterns run, and drop the run the cut went
		// through: half a token is too short to match and must not stay.
		text = strings.TrimRightFunc(text[:maxScan], isRunByte)
	}
	text = accessKeyID.ReplaceAllString(text, "$1…$2")
	text = secretRun.ReplaceAllStringFunc(text, func(run string) string {
		if isSecretShaped(run) {
			return Redacted
		}
		return run
	})
	text = strings.ToValidUTF8(text, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, text)
}

func isRunByte(r rune) bool {
	return r < utf8.RuneSelf && (r == '+' || r == '/' || r == '_' || r == '%' || r == '=' ||
		'0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z')
}

// isSecretShaped tells a secret from a long word: a session token is
// longer than 100 characters; a secret key (40 random characters) or a
// hex signature mixes letters and digits. A long CamelCase role name
// without a digit is left alone, so an AccessDenied still names it.
func isSecretShaped(run string) bool {
	if len(run) >= 100 {
		return true
	}
	var letter, digit bool
	for _, c := range run {
		switch {
		case '0' <= c && c <= '9':
			digit = true
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
			letter = true
		}
	}
	return letter && digit
}

// BoundText returns text cut to at most limit bytes on a rune boundary,
// followed by "… (N bytes cut)" when anything was cut.
func BoundText(text string, limit int) string {
	if len(text) <= limit {
		return text
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes cut)", text[:cut], len(text)-cut)
}

// FailureError is a refresh failure as a Refresher keeps, logs and shows
// it (Snapshot.LastError): the text of the Fetcher's error with secrets
// redacted and cut to MaxErrorText, and its kind and code worked out from
// the error as the Fetcher returned it. It keeps nothing of that error but
// what errors.Is and errors.As are asked about: ErrMFARequired, the
// context errors, a FetchTimeoutError's limit and an AWS error's code.
type FailureError struct {
	// Kind is Classify of the Fetcher's error.
	Kind ErrorKind
	// Code is ErrorCode of the Fetcher's error, "Other" when that was not
	// shaped like an AWS error code.
	Code   string
	text   string
	causes []error
}

// Error returns the redacted, bounded text.
func (e *FailureError) Error() string { return e.text }

// Unwrap returns what is kept of the Fetcher's error for errors.Is and
// errors.As; none of it carries the original text.
func (e *FailureError) Unwrap() []error { return e.causes }

// Sanitize returns err as a FailureError of role (the name the no-source
// hint names), with secrets, and those of any Redacting fetcher err came
// through, redacted. It returns nil for nil.
func Sanitize(role string, err error, secrets ...string) *FailureError {
	if err == nil {
		return nil
	}
	if fe, ok := err.(*FailureError); ok {
		return fe
	}
	var r *redactedError
	if errors.As(err, &r) {
		secrets = append(secrets, r.secrets...)
	}
	kind, code := Classify(err), ErrorCode(err)
	if !errorCodeShape.MatchString(code) {
		code = "Other"
	}
	out := &FailureError{Kind: kind, Code: code}
	raw := err.Error()
	text := BoundText(RedactText(raw, secrets...), MaxErrorText)
	if kind == KindNoSource {
		text = NoSourceHint(role)
		if !containsAny(raw, noSourceTexts) {
			// Not the default chain running dry (whose last word blames
			// IMDS, issue 16 item 5): what the SDK said may help.
			text = BoundText(text+"; "+RedactText(raw, secrets...), MaxErrorText)
		}
	}
	out.text = text
	out.causes = keptCauses(err, code, text, secrets)
	return out
}

// keptCauses is what a FailureError keeps of err for errors.Is and As:
// the sentinels, and new values that hold only redacted, bounded text.
func keptCauses(err error, code, text string, secrets []string) []error {
	var causes []error
	for _, s := range []error{ErrMFARequired, context.DeadlineExceeded, context.Canceled} {
		if errors.Is(err, s) {
			causes = append(causes, s)
		}
	}
	var fte *FetchTimeoutError
	if errors.As(err, &fte) {
		inner := errors.New(BoundText(RedactText(fte.Err.Error(), secrets...), MaxErrorText))
		causes = append(causes, &FetchTimeoutError{Limit: fte.Limit, Err: inner})
	}
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() != "" && code != "Other" {
		causes = append(causes, &smithy.GenericAPIError{Code: code, Message: text, Fault: api.ErrorFault()})
	}
	return causes
}

// NoSourceHint is what imdsd says when the SDK found no source credentials
// for role: what to do about it. The SDK's own words blame IMDS ("no EC2
// IMDS role found, … AWS_EC2_METADATA_DISABLED"), which imdsd turns off
// for its source on purpose (issue 16 item 5).
func NoSourceHint(role string) string {
	subject := "no source credentials"
	if role != "" {
		subject += " for role " + role
	}
	return subject + ": set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, give a profile (--profile), or run aws sso login"
}

// Redacting returns a Fetcher whose errors never show secrets (a role's
// ExternalID, say): their text has them redacted, and Sanitize redacts
// them from everything a Refresher keeps. Classify and ErrorCode see
// through it; an AWS error code not shaped like one reads as "Other", so
// it cannot reach a metrics label whole (so it is worth wrapping even a
// role with no secret to name).
func Redacting(f Fetcher, secrets ...string) Fetcher {
	var keep []string
	for _, s := range secrets {
		if s != "" {
			keep = append(keep, s)
		}
	}
	return FetcherFunc(func(ctx context.Context) (aws.Credentials, error) {
		c, err := f.Fetch(ctx)
		if err != nil {
			return c, &redactedError{err: err, secrets: keep}
		}
		return c, nil
	})
}

// SpecSecrets returns the values of spec that must never be shown: its
// ExternalID, or its profile's external_id, which Resolve passes to STS
// when spec has none. The source credentials need no listing: RedactText
// finds access key IDs, secret keys and session tokens by their shape.
func SpecSecrets(ctx context.Context, spec Spec) []string {
	var out []string
	if spec.ExternalID != "" {
		out = append(out, spec.ExternalID)
	}
	if spec.Profile != "" {
		if sc, err := config.LoadSharedConfigProfile(ctx, spec.Profile, sharedFiles); err == nil && sc.ExternalID != "" {
			out = append(out, sc.ExternalID)
		}
	}
	return out
}

// redactedError is an error of a Redacting fetcher.
type redactedError struct {
	err     error
	secrets []string
}

func (e *redactedError) Error() string { return RedactText(e.err.Error(), e.secrets...) }
func (e *redactedError) Unwrap() error { return e.err }

// ErrorCode, ErrorMessage and ErrorFault make a redactedError the first
// smithy.APIError errors.As finds in its chain: its code is the wrapped
// AWS code when that is shaped like one, "Other" when not, and "" when the
// wrapped error has none (Classify and ErrorCode then look further on).
func (e *redactedError) ErrorCode() string {
	var api smithy.APIError
	if !errors.As(e.err, &api) || api.ErrorCode() == "" {
		return ""
	}
	if !errorCodeShape.MatchString(api.ErrorCode()) {
		return "Other"
	}
	return api.ErrorCode()
}

func (e *redactedError) ErrorMessage() string {
	var api smithy.APIError
	if !errors.As(e.err, &api) {
		return ""
	}
	return BoundText(RedactText(api.ErrorMessage(), e.secrets...), MaxErrorText)
}

func (e *redactedError) ErrorFault() smithy.ErrorFault {
	var api smithy.APIError
	if !errors.As(e.err, &api) {
		return smithy.FaultUnknown
	}
	return api.ErrorFault()
}
