package roles

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/imdsd/imdsd/internal/testutil"
)

// stsError is an STS error document as the SDK returns it, with the given
// request ID in its text, as every real STS answer has a new one.
func stsError(code, requestID string) error {
	return &smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRole", Err: &retry.MaxAttemptsError{
		Attempt: 2,
		Err: &awshttp.ResponseError{RequestID: requestID, ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 403}},
			Err:      &smithy.GenericAPIError{Code: code, Message: "fake " + code, Fault: smithy.FaultClient},
		}},
	}}
}

// TestRefresher_LogsEachDistinctFailureOnce (issue 16 item 6): failures
// are told apart by kind and AWS code, not by text, so STS's new RequestID
// in every answer does not log the same failure at every retry.
func TestRefresher_LogsEachDistinctFailureOnce(t *testing.T) {
	refused := func(addr string) error {
		return &smithyhttp.RequestSendError{Err: &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, Err: fmt.Errorf("connect %s: %w", addr, syscall.ECONNREFUSED)}}
	}
	ok := error(nil)
	tests := []struct {
		name     string
		seq      []error // nil is a success
		wantLogs int
	}{
		{"same code, new RequestID each time", []error{stsError("InvalidClientTokenId", "r-1"), stsError("InvalidClientTokenId", "r-2"), stsError("InvalidClientTokenId", "r-3")}, 1},
		{"code changes", []error{stsError("InvalidClientTokenId", "r-1"), stsError("InvalidClientTokenId", "r-2"), stsError("AccessDenied", "r-3")}, 2},
		{"code changes and back", []error{stsError("Throttling", "r-1"), stsError("AccessDenied", "r-2"), stsError("Throttling", "r-3")}, 3},
		{"same kind, other code", []error{stsError("Throttling", "r-1"), stsError("ThrottlingException", "r-2")}, 2},
		{"again after a recovery", []error{stsError("AccessDenied", "r-1"), ok, stsError("AccessDenied", "r-2")}, 2},
		{"network errors differing in address", []error{refused("127.0.0.1:40001"), refused("127.0.0.1:40002")}, 1},
		{"network, then a timeout", []error{refused("127.0.0.1:40001"), fmt.Errorf("dial: %w", context.DeadlineExceeded)}, 2},
		{"other errors with different texts", []error{errors.New("source returned empty credentials"), errors.New("process provider exited 1")}, 2},
		{"other errors differing only in RequestID", []error{errors.New("https response error StatusCode: 502, RequestID: a1, bad gateway"), errors.New("https response error StatusCode: 502, RequestID: b2, bad gateway")}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := testutil.NewClock(time.Time{})
			logs := &syncBuffer{}
			i := 0
			good := &fakeFetcher{clk: clk, life: time.Hour}
			r, err := NewRefresher(RefresherOptions{
				Fetcher: FetcherFunc(func(ctx context.Context) (aws.Credentials, error) {
					err := tc.seq[i]
					i++
					if err == nil {
						return good.Fetch(ctx)
					}
					return aws.Credentials{}, err
				}),
				Clock: clk, Logger: slog.New(slog.NewTextHandler(logs, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			var texts []string
			for range tc.seq {
				r.fetch(context.Background(), 0)
				if e := r.Snapshot().LastError; e != nil {
					texts = append(texts, e.Error())
				}
			}
			if n := strings.Count(logs.String(), "refresh failed"); n != tc.wantLogs {
				t.Errorf("'refresh failed' lines = %d, want %d:\n%s", n, tc.wantLogs, logs.String())
			}
			// The failures' texts do differ: the test would pass on a
			// comparison of texts otherwise.
			for j := 1; j < len(texts); j++ {
				if texts[j] == texts[j-1] {
					t.Fatalf("failures %d and %d have the same text %q; the case proves nothing", j-1, j, texts[j])
				}
			}
		})
	}
}

// TestRefresher_FailureLogNamesKindAndCode: the one log line of a failure
// carries its kind and code for grepping.
func TestRefresher_FailureLogNamesKindAndCode(t *testing.T) {
	h := start(t, time.Hour, 0, stsError("InvalidClientTokenId", "r-1"))
	logs := h.logs.String()
	for _, want := range []string{"refresh failed", "kind=invalid-source", "code=InvalidClientTokenId", "RequestID: r-1"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

// TestRefresher_FetchTimeoutNamesTheLimit (issue 16 item 10): a Fetcher
// that does not answer is cut off at FetchTimeout, and the failure says
// which limit was hit instead of only "context deadline exceeded".
func TestRefresher_FetchTimeoutNamesTheLimit(t *testing.T) {
	hang := FetcherFunc(func(ctx context.Context) (aws.Credentials, error) {
		<-ctx.Done()
		return aws.Credentials{}, ctx.Err()
	})
	tests := []struct {
		name    string
		timeout time.Duration
		want    string
	}{
		{"default limit", 0, "STS did not answer within 20s: context deadline exceeded"},
		{"short limit", 5 * time.Millisecond, "STS did not answer within 5ms: context deadline exceeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := &syncBuffer{}
			r, err := NewRefresher(RefresherOptions{Fetcher: hang, FetchTimeout: tc.timeout, Clock: testutil.NewClock(time.Time{}),
				Logger: slog.New(slog.NewTextHandler(logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tc.timeout == 0 {
				// Do not wait 20 s: a parent deadline shorter than the
				// limit ends the fetch in its place. It must not be
				// taken for the limit.
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 5*time.Millisecond)
				defer cancel()
				r.fetch(ctx, 0)
				if s := r.Snapshot(); s.LastError != nil || s.Failures != 0 || s.Fetches != 1 {
					t.Fatalf("fetch ended by its caller's deadline: LastError %v Failures %d Fetches %d; want no failure recorded", s.LastError, s.Failures, s.Fetches)
				}
				// The limit itself, with the default value, through the
				// message alone.
				err := &FetchTimeoutError{Limit: DefaultFetchTimeout, Err: context.DeadlineExceeded}
				if err.Error() != tc.want {
					t.Fatalf("message = %q, want %q", err.Error(), tc.want)
				}
				return
			}
			r.fetch(ctx, 0)
			s := r.Snapshot()
			if s.LastError == nil || s.LastError.Error() != tc.want {
				t.Fatalf("LastError = %v, want %q", s.LastError, tc.want)
			}
			var fte *FetchTimeoutError
			if !errors.As(s.LastError, &fte) || fte.Limit != tc.timeout || !errors.Is(s.LastError, context.DeadlineExceeded) {
				t.Fatalf("LastError %v is not a FetchTimeoutError of %s matching DeadlineExceeded", s.LastError, tc.timeout)
			}
			if s.LastErrorKind != KindNetwork || s.LastErrorCode != "Timeout" {
				t.Errorf("kind %s code %q, want network and Timeout", s.LastErrorKind, s.LastErrorCode)
			}
			if !strings.Contains(logs.String(), "within "+tc.timeout.String()) {
				t.Errorf("log does not name the limit:\n%s", logs.String())
			}
		})
	}
}

// TestFetchTimeoutError_DropsNoCause: a Fetcher whose error lost the
// deadline still reads as a timeout, and one that carried an AWS code
// keeps it.
func TestFetchTimeoutError_DropsNoCause(t *testing.T) {
	lost := &FetchTimeoutError{Limit: time.Second, Err: errors.New("request canceled")}
	if Classify(lost) != KindNetwork || ErrorCode(lost) != "Timeout" {
		t.Errorf("lost deadline: kind %s code %q, want network and Timeout", Classify(lost), ErrorCode(lost))
	}
	coded := &FetchTimeoutError{Limit: time.Second, Err: stsError("Throttling", "r-1")}
	if Classify(coded) != KindThrottled || ErrorCode(coded) != "Throttling" {
		t.Errorf("with a code: kind %s code %q, want throttled and Throttling", Classify(coded), ErrorCode(coded))
	}
}

// TestFaults_FailureLoggedOncePerCode (issue 16 item 6): STS rejects the
// source key (InvalidClientTokenId) at every retry for ten minutes, each
// answer with a new request ID: one ERROR line. When the answer changes
// to AccessDenied, a second.
func TestFaults_FailureLoggedOncePerCode(t *testing.T) {
	clk := testutil.NewClock(time.Time{})
	sts := newFakeSTS(t, clk)
	sts.set(stsRevoked)
	g := startFaultRig(t, sts.srv.URL, sts, clk, 0)
	firstErr := g.r.Snapshot().LastError
	g.advance(t, 10*time.Minute)
	s := g.r.Snapshot()
	if s.Failures < 10 || s.LastErrorKind != KindInvalidSource || s.LastErrorCode != "InvalidClientTokenId" {
		t.Fatalf("after 10m: %d failures, kind %s code %q; want 10 or more, invalid-source, InvalidClientTokenId", s.Failures, s.LastErrorKind, s.LastErrorCode)
	}
	if firstErr == nil || firstErr.Error() == s.LastError.Error() {
		t.Fatalf("first and latest failure read the same (%v); the request IDs should differ", firstErr)
	}
	if n := strings.Count(g.logs.String(), "level=ERROR"); n != 1 {
		t.Fatalf("ERROR lines for %d InvalidClientTokenId failures = %d, want 1:\n%s", s.Failures, n, g.logs.String())
	}
	sts.set(stsAccessDenied)
	g.advance(t, 5*time.Minute)
	logs := g.logs.String()
	if n := strings.Count(logs, "level=ERROR"); n != 2 || !strings.Contains(logs, "code=AccessDenied") || !strings.Contains(logs, "kind=access-denied") {
		t.Fatalf("after the code changed: %d ERROR lines, want 2, the second naming AccessDenied:\n%s", n, logs)
	}
}
