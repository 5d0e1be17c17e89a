package imds

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
)

var containerNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func containerCreds() Credentials {
	return Credentials{
		AccessKeyID:     "ASIACONTAINER0001",
		SecretAccessKey: "secret-container",
		SessionToken:    "token-container",
		Expires:         containerNow.Add(time.Hour),
		LastUpdated:     containerNow,
		AccountID:       "123456789012",
	}
}

func newContainerHandler(t testing.TB, token string, src SourceFunc) *ContainerHandler {
	t.Helper()
	h, err := NewContainerHandler(ContainerOptions{
		Source: src,
		Token:  token,
		Logger: slog.New(slog.DiscardHandler),
		Now:    func() time.Time { return containerNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func roleSource(r Role, err error) SourceFunc {
	return func(context.Context, Caller) (Role, error) { return r, err }
}

// TestContainerHandler_SDK points the Go SDK's container credentials
// provider (what AWS_CONTAINER_CREDENTIALS_FULL_URI plus a token uses) at
// the handler.
func TestContainerHandler_SDK(t *testing.T) {
	h := newContainerHandler(t, "Bearer s3cret", roleSource(Role{Name: "web", Credentials: containerCreds()}, nil))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	t.Run("right token", func(t *testing.T) {
		p := endpointcreds.New(srv.URL+PathContainerCredentials, func(o *endpointcreds.Options) { o.AuthorizationToken = "Bearer s3cret" })
		got, err := p.Retrieve(context.Background())
		if err != nil {
			t.Fatalf("Retrieve: %v", err)
		}
		want := aws.Credentials{AccessKeyID: "ASIACONTAINER0001", SecretAccessKey: "secret-container", SessionToken: "token-container",
			CanExpire: true, Expires: containerNow.Add(time.Hour), AccountID: "123456789012"}
		if got.AccessKeyID != want.AccessKeyID || got.SecretAccessKey != want.SecretAccessKey || got.SessionToken != want.SessionToken ||
			!got.Expires.Equal(want.Expires) || got.AccountID != want.AccountID || !got.CanExpire {
			t.Errorf("got key %s expires %s account %s, want key %s expires %s account %s",
				got.AccessKeyID, got.Expires, got.AccountID, want.AccessKeyID, want.Expires, want.AccountID)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		p := endpointcreds.New(srv.URL+PathContainerCredentials, func(o *endpointcreds.Options) {
			o.AuthorizationToken = "Bearer wrong"
			o.Retryer = aws.NopRetryer{}
		})
		_, err := p.Retrieve(context.Background())
		var status interface{ HTTPStatusCode() int }
		if !errors.As(err, &status) || status.HTTPStatusCode() != http.StatusUnauthorized {
			t.Fatalf("got %v, want a 401", err)
		}
	})
}

// checkFunc checks one aspect of a response.
type checkFunc func(*httptest.ResponseRecorder) error

func hasStatus(want int) checkFunc {
	return func(rec *httptest.ResponseRecorder) error {
		if rec.Code != want {
			return errors.New("status " + http.StatusText(rec.Code) + ", want " + http.StatusText(want))
		}
		return nil
	}
}

func hasCode(want string) checkFunc {
	return func(rec *httptest.ResponseRecorder) error {
		var e containerError
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
			return err
		}
		if e.Code != want || e.Message == "" {
			return errors.New("body " + rec.Body.String() + ", want code " + want + " and a message")
		}
		return nil
	}
}

func isJSON(rec *httptest.ResponseRecorder) error {
	if got := rec.Header().Get("Content-Type"); got != "application/json" {
		return errors.New("Content-Type " + got + ", want exactly application/json")
	}
	return nil
}

func hasNoSecret(rec *httptest.ResponseRecorder) error {
	if strings.Contains(rec.Body.String(), "secret-container") {
		return errors.New("body carries the secret key")
	}
	return nil
}

func TestContainerHandler(t *testing.T) {
	good := roleSource(Role{Name: "web", Credentials: containerCreds()}, nil)
	expired := containerCreds()
	expired.Expires = containerNow.Add(-time.Second)
	tests := map[string]struct {
		token   string
		src     SourceFunc
		method  string
		path    string
		headers map[string]string
		checks  []checkFunc
	}{
		"success without token (bridge)": {src: good, checks: []checkFunc{hasStatus(200), isJSON}},
		"missing token":                  {token: "t", src: good, checks: []checkFunc{hasStatus(401), isJSON, hasCode(codeUnauthorized), hasNoSecret}},
		"wrong token":                    {token: "t", src: good, headers: map[string]string{"Authorization": "u"}, checks: []checkFunc{hasStatus(401), hasCode(codeUnauthorized), hasNoSecret}},
		"wrong token on an unknown path": {token: "t", src: good, path: "/nope", checks: []checkFunc{hasStatus(401), hasCode(codeUnauthorized)}},
		"right token":                    {token: "t", src: good, headers: map[string]string{"Authorization": "t"}, checks: []checkFunc{hasStatus(200), isJSON}},
		"trailing slash":                 {src: good, path: PathContainerCredentials + "/", checks: []checkFunc{hasStatus(200)}},
		"unknown path":                   {src: good, path: "/v2/credentials/x", checks: []checkFunc{hasStatus(404), isJSON, hasCode(codeNotFound), hasNoSecret}},
		"post":                           {src: good, method: http.MethodPost, checks: []checkFunc{hasStatus(405), hasCode(codeBadMethod)}},
		"no role":                        {src: roleSource(Role{}, ErrNoRole), checks: []checkFunc{hasStatus(404), isJSON, hasCode(codeNoRole)}},
		"not identified":                 {src: roleSource(Role{}, errors.New("container engine not reachable")), checks: []checkFunc{hasStatus(503), hasCode(codeNotIdentified)}},
		"refused by the rules":           {src: roleSource(Role{}, ErrForbidden), checks: []checkFunc{hasStatus(403), hasCode(codeForbidden)}},
		"role error":                     {src: roleSource(Role{Name: "web", Err: errors.New("assume role failed")}, nil), checks: []checkFunc{hasStatus(503), hasCode(codeUnavailable)}},
		"expired":                        {src: roleSource(Role{Name: "web", Credentials: expired}, nil), checks: []checkFunc{hasStatus(503), hasCode(codeExpired), hasNoSecret}},
		"proxied":                        {src: good, headers: map[string]string{"X-Forwarded-For": "10.0.0.1"}, checks: []checkFunc{hasStatus(403), hasCode(codeForbidden), hasNoSecret}},
		"browser":                        {src: good, headers: map[string]string{"Origin": "http://evil.example"}, checks: []checkFunc{hasStatus(403), hasNoSecret}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newContainerHandler(t, tc.token, tc.src)
			method, path := tc.method, tc.path
			if method == "" {
				method = http.MethodGet
			}
			if path == "" {
				path = PathContainerCredentials
			}
			req := httptest.NewRequest(method, path, nil)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			for _, check := range tc.checks {
				if err := check(rec); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestContainerHandler_Document(t *testing.T) {
	h := newContainerHandler(t, "", roleSource(Role{Name: "web", Credentials: containerCreds()}, nil))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, PathContainerCredentials, nil))
	want := `{"AccessKeyId":"ASIACONTAINER0001","SecretAccessKey":"secret-container","Token":"token-container",` +
		`"Expiration":"2026-01-02T04:04:05Z","AccountId":"123456789012"}`
	if got := rec.Body.String(); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestContainerHandler_IdentifyCaller: the hook's answer is what the
// Source sees.
func TestContainerHandler_IdentifyCaller(t *testing.T) {
	var seen Caller
	h, err := NewContainerHandler(ContainerOptions{
		Source: SourceFunc(func(_ context.Context, c Caller) (Role, error) {
			seen = c
			return Role{}, ErrNoRole
		}),
		IdentifyCaller: func(c Caller) Caller { c.UID, c.HasUID = 1000, true; return c },
		Logger:         slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, PathContainerCredentials, nil))
	if !seen.HasUID || seen.UID != 1000 {
		t.Errorf("Source saw %+v, want uid 1000", seen)
	}
}

func TestNewContainerHandler_NoSource(t *testing.T) {
	if _, err := NewContainerHandler(ContainerOptions{}); err == nil {
		t.Error("got nil error without a Source")
	}
}
