package daemon

// Issue 15 item 9: what STS, or whatever answers at sts_endpoint, writes in
// an error reaches the log, status and the IMDS error document bounded and
// with no secret in it. The fetch is the production one: roles.Resolve's
// stscreds provider on aws-sdk-go-v2's STS client, with source credentials
// from the environment, against a fake STS; the document is read with
// aws-sdk-go-v2's own IMDS credential provider.

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	sdkimds "github.com/aws/aws-sdk-go-v2/feature/ec2/imds"

	"github.com/imdsd/imdsd/imds"
	"github.com/imdsd/imdsd/roles"
)

// The source credentials and the role's external ID, shaped like real ones.
const (
	errSourceKeyID  = "ASIAQWERTYUIOPAS7XQZ"
	errSourceSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKY"
	errExternalID   = "ext-7f3c9a_secret:id"
	errUserARN      = "arn:aws:iam::123456789012:user/alice"
)

// errSourceToken is a session token of session-token length.
var errSourceToken = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD" + strings.Repeat("x7Kp2Lq9Zr4Tw8Yb+Vn3/Mf6Hd1Gs5Jc0", 12) + "=="

// errSTS answers every AssumeRole with a 403 AccessDenied whose message is
// body(request); it remembers the last request's signature.
type errSTS struct {
	srv  *httptest.Server
	body func(r *http.Request, form string) string

	mu        sync.Mutex
	signature string
}

func newErrSTS(t *testing.T, body func(r *http.Request, form string) string) *errSTS {
	t.Helper()
	f := &errSTS{body: body}
	sig := regexp.MustCompile(`Signature=([0-9a-f]+)`)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		form, _ := io.ReadAll(r.Body)
		if m := sig.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
			f.mu.Lock()
			f.signature = m[1]
			f.mu.Unlock()
		}
		var msg bytes.Buffer
		_ = xml.EscapeText(&msg, []byte(f.body(r, string(form))))
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>%s</Message></Error><RequestId>6b7f0a1c-1d2e-4f50-8a9b-0c1d2e3f4a5b</RequestId></ErrorResponse>`, msg.String())
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// echoRequest is an endpoint that echoes the request into its error, as a
// misconfigured proxy or a debugging stub at sts_endpoint does.
func echoRequest(r *http.Request, form string) string {
	return "User: " + errUserARN + " is not authorized to perform: sts:AssumeRole. Request was: Authorization: " +
		r.Header.Get("Authorization") + " X-Amz-Security-Token: " + r.Header.Get("X-Amz-Security-Token") + " Body: " + form
}

// hugeMessage is a 5 MB message.
func hugeMessage(*http.Request, string) string {
	return "User: " + errUserARN + " is not authorized. " + strings.Repeat("padding text ", 5<<20/13)
}

// sourceEnv gives the process the source credentials, and nothing else
// the SDK would read.
func sourceEnv(t *testing.T) {
	t.Helper()
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ACCESS_KEY_ID", errSourceKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", errSourceSecret)
	t.Setenv("AWS_SESSION_TOKEN", errSourceToken)
}

// failingRole runs a role against stsURL and waits for its first fetch.
// With wired, its fetcher is wrapped by hand (roles.Redacting with
// roles.SpecSecrets) and retries are put off; without, it is built by
// resolveRole, as the daemon builds it.
func failingRole(t *testing.T, stsURL string, wired bool, logs io.Writer) *roleEntry {
	t.Helper()
	def := roles.Def{RoleARN: "arn:aws:iam::123456789012:role/demo", Region: "us-east-1", STSEndpoint: stsURL, ExternalID: errExternalID}
	log := slog.New(slog.NewTextHandler(logs, nil))
	var e *roleEntry
	if wired {
		ctx := context.Background()
		r, err := roles.Resolve(ctx, def.Spec())
		if err != nil {
			t.Fatal(err)
		}
		// One fetch: a retry of the 5 MB answer takes seconds under -race.
		ref, err := roles.NewRefresher(roles.RefresherOptions{Name: r.Name, Fetcher: roles.Redacting(r.Fetcher, roles.SpecSecrets(ctx, def.Spec())...),
			Logger: log, BackoffBase: time.Hour, BackoffMax: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		e = &roleEntry{def: def, role: r, refresher: ref}
	} else {
		var err error
		if e, err = resolveRole(context.Background(), def, nil, resolveEnv{log: log}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.start(ctx)
	t.Cleanup(func() { cancel(); e.stop() })
	<-e.refresher.Fetched()
	return e
}

// fetchDocument asks an IMDS server over e for credentials with the Go
// SDK's instance-profile provider and returns its error.
func fetchDocument(t *testing.T, e *roleEntry) error {
	t.Helper()
	s, err := imds.New(imds.Options{
		Source: imds.SourceFunc(func(context.Context, imds.Caller) (imds.Role, error) { return roleCredentials(e), nil }),
		Region: "us-east-1", Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	client := sdkimds.New(sdkimds.Options{Endpoint: srv.URL, EnableFallback: aws.FalseTernary})
	_, err = ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = client }).Retrieve(context.Background())
	if err == nil {
		t.Fatal("the SDK got credentials from a role whose refresh failed")
	}
	return err
}

// leaks returns which of the secrets text holds.
func leaks(text string, secrets map[string]string) []string {
	var out []string
	for name, v := range secrets {
		if v != "" && strings.Contains(text, v) {
			out = append(out, name)
		}
	}
	return out
}

// maxShown is the most bytes a failure's text may take where it is shown:
// MaxErrorText plus the note of what was cut.
const maxShown = roles.MaxErrorText + 32

func TestRoleError_EchoedSecretsNeverShown(t *testing.T) {
	for _, wired := range []bool{true, false} {
		t.Run(fmt.Sprintf("wired=%v", wired), func(t *testing.T) {
			sourceEnv(t)
			sts := newErrSTS(t, echoRequest)
			logs := &lockedBuffer{}
			e := failingRole(t, sts.srv.URL, wired, logs)
			snap := e.refresher.Snapshot()
			if snap.LastError == nil || snap.LastErrorKind != roles.KindAccessDenied || snap.LastErrorCode != "AccessDenied" {
				t.Fatalf("last error %v kind %s code %q, want an AccessDenied", snap.LastError, snap.LastErrorKind, snap.LastErrorCode)
			}
			sts.mu.Lock()
			signature := sts.signature
			sts.mu.Unlock()
			if signature == "" {
				t.Fatal("the fake STS saw no signed request")
			}
			secrets := map[string]string{
				"source key ID": errSourceKeyID, "source secret key": errSourceSecret, "source session token": errSourceToken,
				"request signature": signature,
				// Half the token, in case a cut went through it.
				"part of the session token": errSourceToken[60:100],
			}
			// Both ways wrap the fetcher with the role's secrets.
			secrets["external ID"] = errExternalID
			secrets["URL-encoded external ID"] = url.QueryEscape(errExternalID)
			status := roleStatus(e)
			docErr := fetchDocument(t, e)
			shown := map[string]string{
				"stored error": snap.LastError.Error(), "stats": e.refresher.Stats().LastError,
				"status reason": status.Reason, "log": logs.String(),
				"imds.Role error": roleCredentials(e).Err.Error(), "SDK's error from the IMDS document": docErr.Error(),
			}
			for where, text := range shown {
				if l := leaks(text, secrets); len(l) > 0 {
					t.Errorf("%s holds the %v:\n%s", where, l, text)
				}
			}
			// The log and status keep what the user needs: the code and
			// who was refused.
			for where, text := range map[string]string{"status reason": status.Reason, "log": logs.String()} {
				if !strings.Contains(text, "AccessDenied") || !strings.Contains(text, errUserARN) {
					t.Errorf("%s lacks the code or the refused user's ARN:\n%s", where, text)
				}
			}
			// SDK callers get EC2's code and a fixed message, never who
			// was refused.
			for where, text := range map[string]string{"imds.Role error": shown["imds.Role error"], "SDK's error": shown["SDK's error from the IMDS document"]} {
				if strings.Contains(text, errUserARN) || strings.Contains(text, "123456789012") {
					t.Errorf("%s names the source user: %s", where, text)
				}
			}
			if !strings.Contains(docErr.Error(), roles.CodeAssumeRoleUnauthorized) {
				t.Errorf("SDK's error %q lacks the code %s", docErr, roles.CodeAssumeRoleUnauthorized)
			}
		})
	}
}

// TestRoleError_HugeMessageBounded: a 5 MB STS message is kept, logged,
// shown in status and served in the IMDS document as at most 1 KiB.
func TestRoleError_HugeMessageBounded(t *testing.T) {
	sourceEnv(t)
	sts := newErrSTS(t, hugeMessage)
	logs := &lockedBuffer{}
	e := failingRole(t, sts.srv.URL, true, logs)
	snap := e.refresher.Snapshot()
	if snap.LastError == nil {
		t.Fatal("no failure recorded")
	}
	docErr := fetchDocument(t, e)
	for where, text := range map[string]string{
		"stored error": snap.LastError.Error(), "status reason": roleStatus(e).Reason,
		"imds.Role error": roleCredentials(e).Err.Error(), "SDK's error from the IMDS document": docErr.Error(),
	} {
		if len(text) > maxShown {
			t.Errorf("%s is %d bytes, want at most %d", where, len(text), maxShown)
		}
	}
	if !strings.Contains(snap.LastError.Error(), "bytes cut)") || !strings.Contains(snap.LastError.Error(), "AccessDenied") {
		t.Errorf("stored error %q does not keep the code and say what was cut", snap.LastError)
	}
	// One ERROR line: the failure, its kind and code, and the time.
	if n := len(logs.String()); n > maxShown+512 {
		t.Errorf("log is %d bytes for one failure, want at most %d", n, maxShown+512)
	}
}

// lockedBuffer is a log sink safe for the refresher's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
