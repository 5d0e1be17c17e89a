package roles

import (
	"fmt"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/imdsd/imdsd/internal/testutil"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stsFault is how the fake STS answers.
type stsFault struct {
	status int    // HTTP status of an error answer; 0: success
	code   string // STS error code
	hang   bool   // hold the request until released or 30 s pass
	drop   bool   // close the connection without an answer
}

var (
	stsHealthy      = stsFault{}
	stsDown         = stsFault{drop: true}
	stsHang         = stsFault{hang: true}
	stsInternal     = stsFault{status: 500, code: "InternalFailure"}
	stsThrottling   = stsFault{status: 400, code: "Throttling"}
	stsAccessDenied = stsFault{status: 403, code: "AccessDenied"}
	stsExpiredToken = stsFault{status: 400, code: "ExpiredToken"}
	stsRevoked      = stsFault{status: 403, code: "InvalidClientTokenId"}
)

// fakeSTS answers AssumeRole with credentials that expire an hour after the
// fake clock's now, or with the fault set.
type fakeSTS struct {
	clk     *testutil.Clock
	srv     *httptest.Server
	mu      sync.Mutex
	fault   stsFault
	release chan struct{}
	calls   atomic.Int64 // HTTP requests received
	hanging atomic.Int64 // requests being held now
	issued  atomic.Int64
}

const fakeSecretMark = "fake-secret-do-not-log"

func newFakeSTS(t *testing.T, clk *testutil.Clock) *fakeSTS {
	t.Helper()
	f := &fakeSTS{clk: clk, release: make(chan struct{})}
	f.srv = httptest.NewServer(f)
	t.Cleanup(func() {
		f.set(stsHealthy)
		f.srv.Close()
	})
	return f
}

// set changes the answer; it releases requests held by a hang.
func (f *fakeSTS) set(fault stsFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fault.hang && !fault.hang {
		close(f.release)
		f.release = make(chan struct{})
	}
	f.fault = fault
}

func (f *fakeSTS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	_ = r.ParseForm()
	f.mu.Lock()
	fault, release := f.fault, f.release
	f.mu.Unlock()
	switch {
	case r.Form.Get("Action") != "AssumeRole":
		http.Error(w, "unexpected action "+r.Form.Get("Action"), http.StatusBadRequest)
		return
	case fault.drop:
		if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
			c.Close()
		}
		return
	case fault.hang:
		f.hanging.Add(1)
		defer f.hanging.Add(-1)
		select {
		case <-release:
		case <-r.Context().Done():
			return
		case <-time.After(30 * time.Second):
		}
		f.mu.Lock()
		fault = f.fault
		f.mu.Unlock()
		if fault.hang {
			http.Error(w, "hung for 30 s", http.StatusGatewayTimeout)
			return
		}
	}
	if fault.status != 0 {
		// Like STS, a new request ID in every answer (issue 16 item 6).
		id := fmt.Sprintf("fake-%d", f.calls.Load())
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("X-Amzn-Requestid", id)
		w.WriteHeader(fault.status)
		fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>fake %s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`, fault.code, fault.code, id)
		return
	}
	n := f.issued.Add(1)
	exp := f.clk.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/demo/s</Arn><AssumedRoleId>AROAFAKE:s</AssumedRoleId></AssumedRoleUser>
<Credentials><AccessKeyId>ASIAFAKE%012d</AccessKeyId><SecretAccessKey>%s-%d</SecretAccessKey><SessionToken>token-%d-%s</SessionToken><Expiration>%s</Expiration></Credentials>
</AssumeRoleResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></AssumeRoleResponse>`, n, fakeSecretMark, n, n, fakeSecretMark, exp)
}

// stsFetcher is the production fetch path (an stscreds AssumeRole provider
// on an sts.Client, two attempts per call as loadConfig sets) pointed at
// url, with the retry delay taken out so a test does not sleep.
func stsFetcher(url string) Fetcher {
	client := sts.New(sts.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIASOURCEFAKE", "source-secret-"+fakeSecretMark, ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 2
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		}),
	})
	p := stscreds.NewAssumeRoleProvider(client, "arn:aws:iam::123456789012:role/demo", func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = "faults"
		o.Duration = DefaultDuration
	})
	return FetcherFunc(p.Retrieve)
}
