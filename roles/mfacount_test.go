package roles

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imdsd/imdsd/internal/testutil"
)

// TestRefresher_WaitingForMFACountsNoCall (issue 16 item 10): a role
// waiting for an MFA code makes no STS call, so status's STS CALLS and
// FAILURES (Snapshot's Fetches and Failures) do not count up however
// often the loop tries; the failure is still kept, as needs-mfa.
func TestRefresher_WaitingForMFACountsNoCall(t *testing.T) {
	var calls atomic.Int64
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		http.Error(w, "no call expected", http.StatusInternalServerError)
	}))
	t.Cleanup(sts.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAMFACOUNTTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "mfa-count-secret")
	res, _, ok, err := ResolveMFA(context.Background(), Spec{Def: Def{
		RoleARN: "arn:aws:iam::123456789012:role/mfa", Region: "us-east-1", STSEndpoint: sts.URL,
	}}, "arn:aws:iam::123456789012:mfa/dev", time.Hour, map[string]*MFASession{})
	if err != nil || !ok {
		t.Fatalf("ResolveMFA: ok=%v, %v", ok, err)
	}
	r, err := NewRefresher(RefresherOptions{Name: res.Name, Fetcher: res.Fetcher, Clock: testutil.NewClock(testutil.Epoch),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		r.fetch(context.Background(), i)
	}
	s := r.Snapshot()
	if s.LastErrorKind != KindNeedsMFA {
		t.Fatalf("last error %v (%s), want needs-mfa", s.LastError, s.LastErrorKind)
	}
	if s.Fetches != 0 || s.Failures != 0 {
		t.Errorf("Fetches, Failures = %d, %d while waiting for MFA; want 0, 0 (no STS call)", s.Fetches, s.Failures)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("STS got %d calls while the role waits for MFA", n)
	}
}
