package roles

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/imdsd/imdsd/internal/testutil"
)

// emptyAWSEnv leaves the process no AWS_* variable, a HOME with nothing in
// it and no shared files: the SDK's default chain finds no credentials.
func emptyAWSEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "") // restored after the test
			os.Unsetenv(k)
		}
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
}

// TestRefresher_NoSourceSaysWhatToDo (issue 16 item 5): with no source
// credentials at all, the SDK's chain ends with "no EC2 IMDS role found,
// … AWS_EC2_METADATA_DISABLED", which blames IMDS. The log line, the
// stored failure (status) and the IMDS error document say what to do.
func TestRefresher_NoSourceSaysWhatToDo(t *testing.T) {
	emptyAWSEnv(t)
	var calls atomic.Int64
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		http.Error(w, "no call expected", http.StatusInternalServerError)
	}))
	t.Cleanup(sts.Close)
	res, err := Resolve(context.Background(), Spec{Def: Def{RoleARN: "arn:aws:iam::123456789012:role/demo", Region: "us-east-1", STSEndpoint: sts.URL}})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	r, err := NewRefresher(RefresherOptions{Name: res.Name, Fetcher: res.Fetcher, Clock: testutil.NewClock(testutil.Epoch),
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r.fetch(context.Background(), 0)

	want := "no source credentials for role demo: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, give a profile (--profile), or run aws sso login"
	s := r.Snapshot()
	if s.LastErrorKind != KindNoSource || s.LastError == nil || s.LastError.Error() != want {
		t.Fatalf("last error %q (%s), want %q (no-source)", s.LastError, s.LastErrorKind, want)
	}
	pub := s.PublicErr("demo")
	if pub == nil || pub.Error() != want {
		t.Errorf("IMDS error message %q, want %q", pub, want)
	}
	if c, ok := pub.(interface{ ErrorCode() string }); !ok || c.ErrorCode() != CodeCredentialsUnavailable {
		t.Errorf("IMDS error code of %v, want %s", pub, CodeCredentialsUnavailable)
	}
	log := logs.String()
	if !strings.Contains(log, want) || !strings.Contains(log, "kind=no-source") {
		t.Errorf("log lacks the hint:\n%s", log)
	}
	for _, text := range []string{log, s.LastError.Error(), pub.Error()} {
		if strings.Contains(text, "EC2 IMDS") || strings.Contains(text, "AWS_EC2_METADATA_DISABLED") {
			t.Errorf("the failure still blames IMDS:\n%s", text)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("STS called %d times with no source credentials, want 0", n)
	}
}
