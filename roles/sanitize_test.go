package roles

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
)

// Secrets shaped like the real ones: a temporary key ID, a 40-character
// secret key, a session token of session-token length, an external ID.
var (
	testKeyID      = "ASIAQWERTYUIOPAS7XQZ"
	testSecret     = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKY"
	testToken      = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD" + strings.Repeat("x7Kp2Lq9Zr4Tw8Yb+Vn3/Mf6Hd1Gs5Jc0", 12) + "=="
	testExternalID = "ext-7f3c9a_secret:id"
)

func TestRedactText(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		secrets []string
		want    string
	}{
		{"key id keeps its last four", "key " + testKeyID + " denied", nil, "key ASIA…7XQZ denied"},
		{"long-term key id", "Credential=AKIAIOSFODNN7EXAMPLE/20250101/us-east-1/sts/aws4_request", nil,
			"Credential=AKIA…MPLE/20250101/us-east-1/sts/aws4_request"},
		{"secret key", "secret " + testSecret + ".", nil, "secret [redacted]."},
		{"session token", "X-Amz-Security-Token: " + testToken, nil, "X-Amz-Security-Token: [redacted]"},
		{"URL-encoded session token", "token=" + strings.ReplaceAll(strings.ReplaceAll(testToken, "/", "%2F"), "+", "%2B"), nil, "token=[redacted]"},
		{"signature", "Signature=" + strings.Repeat("0a1b2c3d", 8), nil, "Signature=[redacted]"},
		{"external id raw and URL-encoded", "ExternalId=" + testExternalID + " or ExternalId=ext-7f3c9a_secret%3Aid", []string{testExternalID},
			"ExternalId=[redacted] or ExternalId=[redacted]"},
		{"empty secret ignored", "nothing here", []string{""}, "nothing here"},
		{"ARN and request ID kept", "RequestID: 6b7f0a1c-1d2e-4f50-8a9b-0c1d2e3f4a5b, api error AccessDenied: User: arn:aws:iam::123456789012:user/alice is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/ThisIsAVeryLongRoleNameWithoutAnyDigits", nil,
			"RequestID: 6b7f0a1c-1d2e-4f50-8a9b-0c1d2e3f4a5b, api error AccessDenied: User: arn:aws:iam::123456789012:user/alice is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/ThisIsAVeryLongRoleNameWithoutAnyDigits"},
		{"control characters", "line1\nline2\x1b[31m\tend", nil, "line1 line2 [31m end"},
		{"invalid UTF-8", "bad \xff byte", nil, "bad \uFFFD byte"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := RedactText(tc.in, tc.secrets...); got != tc.want {
				t.Errorf("RedactText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestRedactText_CutDoesNotLeaveHalfAToken: past maxScan the text is cut
// before the patterns run; a token the cut goes through must not survive
// as a run too short to match.
func TestRedactText_CutDoesNotLeaveHalfAToken(t *testing.T) {
	pad := strings.Repeat("a ", (maxScan-20)/2)
	got := RedactText(pad + testToken)
	if strings.Contains(got, testToken[:20]) {
		t.Fatalf("the start of a token cut at maxScan survived: …%q", got[len(got)-40:])
	}
}

func TestBoundText(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		limit int
		want  string
	}{
		{"short", "abc", 10, "abc"},
		{"exact", "abcde", 5, "abcde"},
		{"cut", "abcdefgh", 5, "abcde… (3 bytes cut)"},
		{"cut on a rune boundary", "ab€€", 4, "ab… (6 bytes cut)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := BoundText(tc.in, tc.limit)
			if got != tc.want || !utf8.ValidString(got) {
				t.Errorf("BoundText(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
			}
		})
	}
}

// apiErr is an STS error as the SDK returns it: an operation error
// wrapping an APIError.
func apiErr(code, msg string) error {
	return &smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRole",
		Err: &smithy.GenericAPIError{Code: code, Message: msg, Fault: smithy.FaultClient}}
}

// TestSanitize_KeepsKindCodeAndMatches: what is kept of a failure still
// answers errors.Is, errors.As, Classify and ErrorCode as the original
// did, and holds no text of it beyond the redacted, bounded one.
func TestSanitize_KeepsKindCodeAndMatches(t *testing.T) {
	big := strings.Repeat("denied ", 1<<20) // 7 MB
	tests := []struct {
		name     string
		err      error
		kind     ErrorKind
		code     string
		is       error
		checkAPI bool
	}{
		{"AccessDenied", apiErr("AccessDenied", "User: arn:aws:iam::1:user/u "+big), KindAccessDenied, "AccessDenied", nil, true},
		{"MFA", fmt.Errorf("assume: %w", ErrMFARequired), KindNeedsMFA, "MFARequired", ErrMFARequired, false},
		{"timeout", &FetchTimeoutError{Limit: time.Second, Err: context.DeadlineExceeded}, KindNetwork, "Timeout", context.DeadlineExceeded, false},
		{"code not shaped like one", apiErr(strings.Repeat("X", 200)+" <script>", "m"), KindOther, "Other", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fe := Sanitize("demo", tc.err)
			if fe.Kind != tc.kind || fe.Code != tc.code {
				t.Errorf("kind %s code %q, want %s %q", fe.Kind, fe.Code, tc.kind, tc.code)
			}
			if Classify(fe) != tc.kind || ErrorCode(fe) != tc.code {
				t.Errorf("Classify %s ErrorCode %q of the kept error, want %s %q", Classify(fe), ErrorCode(fe), tc.kind, tc.code)
			}
			if tc.is != nil && !errors.Is(fe, tc.is) {
				t.Errorf("errors.Is(%v) = false", tc.is)
			}
			if n := len(fe.Error()); n > MaxErrorText+32 {
				t.Errorf("kept text is %d bytes, want at most %d plus the note", n, MaxErrorText)
			}
			var api smithy.APIError
			if errors.As(fe, &api) != tc.checkAPI {
				t.Fatalf("errors.As(APIError) = %v, want %v", !tc.checkAPI, tc.checkAPI)
			}
			if tc.checkAPI && (api.ErrorCode() != tc.code || len(api.ErrorMessage()) > MaxErrorText+32) {
				t.Errorf("kept APIError: code %q, message %d bytes", api.ErrorCode(), len(api.ErrorMessage()))
			}
		})
	}
	var fte *FetchTimeoutError
	if fe := Sanitize("demo", &FetchTimeoutError{Limit: 3 * time.Second, Err: errors.New("x " + testToken)}); !errors.As(fe, &fte) || fte.Limit != 3*time.Second || strings.Contains(fte.Error(), testToken) {
		t.Errorf("kept FetchTimeoutError %v: want the limit and no token", fte)
	}
}

// TestSanitize_NoSourceSaysWhatToDo (issue 16 item 5): the default chain
// running dry reads as what to do, not as the SDK's word about IMDS.
func TestSanitize_NoSourceSaysWhatToDo(t *testing.T) {
	sdk := errors.New("failed to refresh cached credentials, no EC2 IMDS role found, operation error ec2imds: GetMetadata, access disabled to EC2 IMDS via client option, or \"AWS_EC2_METADATA_DISABLED\" environment variable")
	fe := Sanitize("demo", sdk)
	if want := NoSourceHint("demo"); fe.Error() != want || fe.Kind != KindNoSource {
		t.Errorf("got %q (%s), want %q", fe.Error(), fe.Kind, want)
	}
	// Another no-source failure keeps what the SDK said, after the hint.
	other := Sanitize("demo", errors.New("failed to retrieve credentials: process exited 1"))
	if !strings.HasPrefix(other.Error(), NoSourceHint("demo")+"; ") || !strings.Contains(other.Error(), "process exited 1") {
		t.Errorf("got %q, want the hint then the SDK's text", other.Error())
	}
}

// TestRedacting: a Redacting fetcher's errors hide its secrets from their
// text and from the APIError message, and still classify as before.
func TestRedacting(t *testing.T) {
	f := Redacting(FetcherFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, apiErr("AccessDenied", "echo ExternalId="+testExternalID)
	}), "", testExternalID)
	_, err := f.Fetch(context.Background())
	if strings.Contains(err.Error(), testExternalID) {
		t.Errorf("error text holds the external ID: %v", err)
	}
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "AccessDenied" || strings.Contains(api.ErrorMessage(), testExternalID) {
		t.Errorf("APIError seen through Redacting: %v", api)
	}
	if Classify(err) != KindAccessDenied || ErrorCode(err) != "AccessDenied" {
		t.Errorf("Classify %s ErrorCode %q, want access-denied AccessDenied", Classify(err), ErrorCode(err))
	}
	if fe := Sanitize("demo", err); strings.Contains(fe.Error(), testExternalID) {
		t.Errorf("sanitized text holds the external ID: %v", fe)
	}
	huge := Redacting(FetcherFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, apiErr(strings.Repeat("C", 5000), "m")
	})) // no secret: the code is bounded all the same
	if _, err := huge.Fetch(context.Background()); ErrorCode(err) != "Other" {
		t.Errorf("a 5000-byte code reads as %d bytes, want Other", len(ErrorCode(err)))
	}
}

func TestPublicError(t *testing.T) {
	tests := []struct {
		kind     ErrorKind
		code     string
		wantCode string
	}{
		{KindAccessDenied, "AccessDenied", CodeAssumeRoleUnauthorized},
		{KindExpiredSource, "ExpiredToken", "ExpiredToken"},
		{KindThrottled, "Throttling", "Throttling"},
		{KindNeedsMFA, "MFARequired", CodeCredentialsUnavailable},
		{KindNetwork, "Timeout", CodeCredentialsUnavailable},
		{KindNoSource, "Other", CodeCredentialsUnavailable},
		{KindOther, "Other", CodeCredentialsUnavailable},
		{KindOther, "bad code!", CodeCredentialsUnavailable},
	}
	seen := map[string]ErrorKind{}
	for _, tc := range tests {
		t.Run(string(tc.kind)+"/"+tc.code, func(t *testing.T) {
			e := NewPublicError("demo", tc.kind, tc.code)
			if e.ErrorCode() != tc.wantCode {
				t.Errorf("code %q, want %q", e.ErrorCode(), tc.wantCode)
			}
			if !strings.Contains(e.Error(), "demo") {
				t.Errorf("message %q does not name the role", e.Error())
			}
			if k, ok := seen[e.Error()]; ok && k != tc.kind {
				t.Errorf("kinds %s and %s share the message %q", k, tc.kind, e.Error())
			}
			seen[e.Error()] = tc.kind
		})
	}
	if got, want := NewPublicError("demo", KindNoSource, "").Error(), NoSourceHint("demo"); got != want {
		t.Errorf("no-source message %q, want %q", got, want)
	}
}
