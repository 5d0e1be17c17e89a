package roles

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/sso"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// closedAddr returns a loopback address nothing listens on: connecting to
// it is refused. The port is below the kernel's ephemeral range, so it
// cannot be taken meanwhile as the source port of some connection (a
// dial to it could even connect to itself, TCP simultaneous open), and a
// test can listen on it again later.
func closedAddr(t *testing.T) string {
	t.Helper()
	const lo, hi = 20000, 32768 // Linux's ephemeral ports start at 32768
	first := lo + rand.IntN(hi-lo)
	for i := range hi - lo {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(lo+(first-lo+i)%(hi-lo)))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		ln.Close()
		return addr
	}
	t.Fatal("no free loopback port below the ephemeral range")
	return ""
}

// apiError is an STS error as the SDK hands it back after its retries:
// the operation, the attempts, the HTTP response, the API error.
func apiError(code string) error {
	return &smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRole", Err: &retry.MaxAttemptsError{
		Attempt: 2,
		Err: &awshttp.ResponseError{RequestID: "f00d", ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 400}},
			Err:      &smithy.GenericAPIError{Code: code, Message: "fake " + code, Fault: smithy.FaultClient},
		}},
	}}
}

// TestClassify covers every kind with real error values: the SDK's own
// types, wrapped as the SDK and imdsd wrap them, real network errors and a
// real context deadline.
func TestClassify(t *testing.T) {
	refused := func(t *testing.T) error {
		_, err := net.Dial("tcp", closedAddr(t))
		if err == nil {
			t.Fatal("dial to a closed port succeeded")
		}
		return err
	}
	deadline := func(*testing.T) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
		defer cancel()
		<-ctx.Done()
		return fmt.Errorf("operation error STS: AssumeRole: %w", ctx.Err())
	}
	ssoExpired := func(t *testing.T) error {
		// A real IAM Identity Center provider whose cached token is
		// missing: the SDK's "run aws sso login" error.
		p := ssocreds.New(sso.New(sso.Options{Region: "us-east-1"}), "123456789012", "r", "https://example.invalid/start",
			func(o *ssocreds.Options) { o.CachedTokenFilepath = filepath.Join(t.TempDir(), "missing.json") })
		_, err := p.Retrieve(context.Background())
		return err
	}
	emptyStatic := func(*testing.T) error {
		_, err := credentials.NewStaticCredentialsProvider("", "", "").Retrieve(context.Background())
		return err
	}
	imdsRefused := func(t *testing.T) error {
		// The default chain's last resort when IMDS is not there: a real
		// ec2rolecreds provider pointed at a closed port. It wraps a
		// network error, but the cause is that no source exists.
		client := imds.New(imds.Options{Endpoint: "http://" + closedAddr(t), Retryer: aws.NopRetryer{}})
		_, err := ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = client }).Retrieve(context.Background())
		return err
	}
	fixed := func(err error) func(*testing.T) error { return func(*testing.T) error { return err } }
	tests := []struct {
		name     string
		err      func(*testing.T) error
		wantKind ErrorKind
		wantCode string
	}{
		{"nil", fixed(nil), KindNone, ""},
		{"ErrMFARequired", fixed(ErrMFARequired), KindNeedsMFA, "MFARequired"},
		{"MFA session ended, wrapped twice", fixed(fmt.Errorf("get identity: %w", fmt.Errorf("MFA session ended at 2026-11-27T12:00:00Z: %w", ErrMFARequired))), KindNeedsMFA, "MFARequired"},
		{"role needs an MFA code, no terminal", fixed(errors.New("role needs an MFA code for arn:aws:iam::123456789012:mfa/u and no terminal is attached")), KindNeedsMFA, "Other"},
		{"config: MFA token provider not set", fixed(fmt.Errorf("load source credentials from profile %q: %w", "dev", config.AssumeRoleTokenProviderNotSetError{})), KindNeedsMFA, "Other"},
		{"AccessDenied", fixed(apiError("AccessDenied")), KindAccessDenied, "AccessDenied"},
		{"AccessDeniedException", fixed(apiError("AccessDeniedException")), KindAccessDenied, "AccessDeniedException"},
		{"InvalidClientTokenId", fixed(apiError("InvalidClientTokenId")), KindInvalidSource, "InvalidClientTokenId"},
		{"SignatureDoesNotMatch", fixed(apiError("SignatureDoesNotMatch")), KindInvalidSource, "SignatureDoesNotMatch"},
		{"UnrecognizedClientException", fixed(apiError("UnrecognizedClientException")), KindInvalidSource, "UnrecognizedClientException"},
		{"Throttling", fixed(apiError("Throttling")), KindThrottled, "Throttling"},
		{"ThrottlingException", fixed(apiError("ThrottlingException")), KindThrottled, "ThrottlingException"},
		{"RequestLimitExceeded", fixed(apiError("RequestLimitExceeded")), KindThrottled, "RequestLimitExceeded"},
		{"TooManyRequestsException", fixed(apiError("TooManyRequestsException")), KindThrottled, "TooManyRequestsException"},
		{"SlowDown, from the SDK's throttle list", fixed(apiError("SlowDown")), KindThrottled, "SlowDown"},
		{"ExpiredToken", fixed(apiError("ExpiredToken")), KindExpiredSource, "ExpiredToken"},
		{"ExpiredTokenException", fixed(apiError("ExpiredTokenException")), KindExpiredSource, "ExpiredTokenException"},
		{"InternalFailure", fixed(apiError("InternalFailure")), KindOther, "InternalFailure"},
		{"API error wrapped by imdsd", fixed(fmt.Errorf("assume role demo: %w", &smithy.GenericAPIError{Code: "AccessDenied"})), KindAccessDenied, "AccessDenied"},
		{"SSO token missing (real ssocreds)", ssoExpired, KindExpiredSource, "Other"},
		{"empty static credentials (real provider)", emptyStatic, KindNoSource, "Other"},
		{"no EC2 IMDS role found over a refused connection", imdsRefused, KindNoSource, "Other"},
		{"connection refused (real dial)", refused, KindNetwork, "Other"},
		{"connection refused in RequestSendError", func(t *testing.T) error {
			return &smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRole", Err: &smithyhttp.RequestSendError{Err: refused(t)}}
		}, KindNetwork, "Other"},
		{"connection dropped", fixed(&smithyhttp.RequestSendError{Err: io.ErrUnexpectedEOF}), KindNetwork, "Other"},
		{"DNS", fixed(fmt.Errorf("dial: %w", &net.DNSError{Err: "no such host", Name: "sts.example.invalid", IsNotFound: true})), KindNetwork, "Other"},
		{"context deadline (real)", deadline, KindNetwork, "Timeout"},
		{"plain error", fixed(errors.New("source returned empty credentials")), KindOther, "Other"},
		{"texts only: API code lost in %v", fixed(fmt.Errorf("fetch: %v", apiError("Throttling"))), KindThrottled, "Other"},
		{"texts only: SSO expiry lost in %v", fixed(fmt.Errorf("fetch: %v", &ssocreds.InvalidTokenError{})), KindExpiredSource, "Other"},
		{"texts only: credentials provider failed", fixed(errors.New("failed to retrieve credentials, unable to read file at /var/run/token")), KindNoSource, "Other"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err(t)
			if tc.wantKind != KindNone && err == nil {
				t.Fatal("the case produced no error")
			}
			if got := Classify(err); got != tc.wantKind {
				t.Errorf("Classify(%v) = %s, want %s", err, got, tc.wantKind)
			}
			if got := ErrorCode(err); got != tc.wantCode {
				t.Errorf("ErrorCode(%v) = %q, want %q", err, got, tc.wantCode)
			}
		})
	}
}

// TestClassify_RealSTSClient checks the classification against what the
// production fetch path (stscreds on an sts.Client, as stsFetcher builds)
// returns when STS answers with an error document, cannot be reached or
// does not answer, or when there are no source credentials at all.
func TestClassify_RealSTSClient(t *testing.T) {
	var requestID atomic.Int64
	stsError := func(status int, code string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := fmt.Sprintf("req-%d", requestID.Add(1))
			w.Header().Set("Content-Type", "text/xml")
			w.Header().Set("X-Amzn-Requestid", id)
			w.WriteHeader(status)
			fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>fake %s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`, code, code, id)
		})
	}
	serve := func(t *testing.T, h http.Handler) string {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	tests := []struct {
		name     string
		fetcher  func(t *testing.T) Fetcher
		timeout  time.Duration
		wantKind ErrorKind
		wantCode string
	}{
		{"403 AccessDenied", func(t *testing.T) Fetcher { return stsFetcher(serve(t, stsError(403, "AccessDenied"))) }, 0, KindAccessDenied, "AccessDenied"},
		{"400 Throttling", func(t *testing.T) Fetcher { return stsFetcher(serve(t, stsError(400, "Throttling"))) }, 0, KindThrottled, "Throttling"},
		{"400 ExpiredToken", func(t *testing.T) Fetcher { return stsFetcher(serve(t, stsError(400, "ExpiredToken"))) }, 0, KindExpiredSource, "ExpiredToken"},
		{"403 InvalidClientTokenId", func(t *testing.T) Fetcher { return stsFetcher(serve(t, stsError(403, "InvalidClientTokenId"))) }, 0, KindInvalidSource, "InvalidClientTokenId"},
		{"403 SignatureDoesNotMatch", func(t *testing.T) Fetcher { return stsFetcher(serve(t, stsError(403, "SignatureDoesNotMatch"))) }, 0, KindInvalidSource, "SignatureDoesNotMatch"},
		{"500 InternalFailure", func(t *testing.T) Fetcher { return stsFetcher(serve(t, stsError(500, "InternalFailure"))) }, 0, KindOther, "InternalFailure"},
		{"connection refused", func(t *testing.T) Fetcher { return stsFetcher("http://" + closedAddr(t)) }, 0, KindNetwork, "Other"},
		{"STS hangs past the deadline", func(t *testing.T) Fetcher {
			return stsFetcher(serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// Read the body first: only then does the server notice
				// the client hanging up and end r.Context().
				_, _ = io.Copy(io.Discard, r.Body)
				<-r.Context().Done()
			})))
		}, 50 * time.Millisecond, KindNetwork, "Timeout"},
		{"no source credentials anywhere", func(t *testing.T) Fetcher {
			isolateAWSEnv(t, "", "")
			r, err := Resolve(context.Background(), Spec{Def: Def{RoleARN: "arn:aws:iam::123456789012:role/demo", STSEndpoint: serve(t, stsError(403, "AccessDenied"))}})
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			return r.Fetcher
		}, 0, KindNoSource, "Other"},
		{"role profile needs MFA, no terminal", func(t *testing.T) Fetcher {
			isolateAWSEnv(t, "[profile dev]\nrole_arn = arn:aws:iam::123456789012:role/demo\nsource_profile = base\nmfa_serial = "+testSerial+"\n",
				"[base]\naws_access_key_id = AKIAEXAMPLESOURCE09\naws_secret_access_key = source-secret\n")
			r, err := Resolve(context.Background(), Spec{Def: Def{Profile: "dev", STSEndpoint: serve(t, stsError(403, "AccessDenied"))}})
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			return r.Fetcher
		}, 0, KindNeedsMFA, "Other"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.timeout != 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			_, err := tc.fetcher(t).Fetch(ctx)
			if err == nil {
				t.Fatal("Fetch succeeded, want an error")
			}
			if got := Classify(err); got != tc.wantKind {
				t.Errorf("Classify(%v) = %s, want %s", err, got, tc.wantKind)
			}
			if got := ErrorCode(err); got != tc.wantCode {
				t.Errorf("ErrorCode(%v) = %q, want %q", err, got, tc.wantCode)
			}
			if strings.Contains(err.Error(), fakeSecretMark) {
				t.Errorf("error carries a secret: %v", err)
			}
		})
	}
}

func TestErrorKind_String(t *testing.T) {
	for k, want := range map[ErrorKind]string{KindNone: "none", KindNeedsMFA: "needs-mfa", KindInvalidSource: "invalid-source", KindOther: "other"} {
		if got := k.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", k, got, want)
		}
	}
}
