package roles

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// Limits from the STS AssumeRole API (imds-protocol.md §5.1).
const (
	MinDuration     = 15 * time.Minute
	MaxDuration     = 12 * time.Hour
	DefaultDuration = 1 * time.Hour
)

// Validation errors, matched with errors.Is.
var (
	ErrInvalidARN         = errors.New("not an IAM role ARN (want arn:aws:iam::123456789012:role/NAME)")
	ErrInvalidSessionName = errors.New("session name must be 2-64 characters of [A-Za-z0-9_+=,.@-]")
	ErrInvalidExternalID  = errors.New("external ID must be 2-1224 characters of [A-Za-z0-9_+=,.@:/-]")
	ErrInvalidDuration    = errors.New("duration must be whole seconds between 15m and 12h")
	ErrInvalidEndpoint    = errors.New("endpoint must be an http or https URL with a host")
)

var (
	roleARNPattern     = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})$`)
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	externalIDPattern  = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
)

// ValidateARN checks that s is an IAM role ARN.
func ValidateARN(s string) error {
	if !roleARNPattern.MatchString(s) {
		return fmt.Errorf("%q: %w", s, ErrInvalidARN)
	}
	return nil
}

// RoleName returns the role's name, the last part of its ARN, as EC2 shows
// an instance profile's role. It returns "" for a string that is not a role
// ARN.
func RoleName(arn string) string {
	m := roleARNPattern.FindStringSubmatch(arn)
	if m == nil {
		return ""
	}
	return m[3]
}

// AccountID returns the account of a role ARN, or "".
func AccountID(arn string) string {
	m := roleARNPattern.FindStringSubmatch(arn)
	if m == nil {
		return ""
	}
	return m[2]
}

// ValidateSessionName checks an STS role session name.
func ValidateSessionName(s string) error {
	if !sessionNamePattern.MatchString(s) {
		return fmt.Errorf("%q: %w", s, ErrInvalidSessionName)
	}
	return nil
}

// ValidateExternalID checks an STS external ID.
func ValidateExternalID(s string) error {
	if len(s) < 2 || len(s) > 1224 || !externalIDPattern.MatchString(s) {
		return fmt.Errorf("%w", ErrInvalidExternalID) // never echo: it may be a shared secret
	}
	return nil
}

// ValidateDuration checks a session duration.
func ValidateDuration(d time.Duration) error {
	if d < MinDuration || d > MaxDuration || d%time.Second != 0 {
		return fmt.Errorf("%s: %w", d, ErrInvalidDuration)
	}
	return nil
}

// ValidateEndpoint checks an STS endpoint URL.
func ValidateEndpoint(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return fmt.Errorf("%q: %w", s, ErrInvalidEndpoint)
	}
	return nil
}

// DefaultSessionName returns "imdsd-" and the host name, cleaned to the
// characters STS allows, so CloudTrail shows which machine assumed the role.
func DefaultSessionName() string {
	h, _ := os.Hostname()
	h = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("_+=,.@-", r):
			return r
		}
		return '-'
	}, h)
	name := "imdsd-" + h
	if len(name) > 64 {
		name = name[:64]
	}
	return strings.TrimRight(name, "-.")
}
