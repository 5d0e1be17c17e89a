package imds

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

type codedErr struct{ code, msg string }

func (e codedErr) Error() string     { return e.msg }
func (e codedErr) ErrorCode() string { return e.code }

var secondsUTC = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

func TestServer_CredentialDocument(t *testing.T) {
	clk := newFakeClock()
	creds := testCreds(clk.Now())
	s, _ := newTestServer(t, Options{Source: staticSource(Role{Name: "demo", Credentials: creds}, nil), Now: clk.Now})

	w := do(s, http.MethodGet, PathSecurityCredentials+"/demo")
	if w.Code != 200 {
		t.Fatalf("status = %d, want 200", w.Code)
	}
	var doc map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatalf("document is not JSON of strings: %v", err)
	}
	want := map[string]string{
		"Code":            "Success",
		"Type":            "AWS-HMAC",
		"AccessKeyId":     creds.AccessKeyID,
		"SecretAccessKey": creds.SecretAccessKey,
		"Token":           creds.SessionToken,
		// Truncated to the second, in UTC, with a Z: never moved.
		"Expiration":  creds.Expires.UTC().Truncate(time.Second).Format(time.RFC3339),
		"LastUpdated": creds.LastUpdated.UTC().Format(time.RFC3339),
	}
	if len(doc) != len(want) {
		t.Errorf("document has %d keys, want exactly the %d documented ones: %v", len(doc), len(want), keys(doc))
	}
	for k, v := range want {
		if doc[k] != v {
			t.Errorf("%s = %q, want %q", k, doc[k], v)
		}
	}
	for _, k := range []string{"Expiration", "LastUpdated"} {
		if !secondsUTC.MatchString(doc[k]) {
			t.Errorf("%s = %q, want YYYY-MM-DDTHH:MM:SSZ (botocore strptime)", k, doc[k])
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestServer_ExtendedCredentialDocument(t *testing.T) {
	clk := newFakeClock()
	creds := testCreds(clk.Now())
	s, _ := newTestServer(t, Options{Source: staticSource(Role{Name: "demo", Credentials: creds}, nil), Now: clk.Now})
	w := do(s, http.MethodGet, PathExtendedCredentials+"/demo")
	var doc map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || w.Code != 200 {
		t.Fatalf("status %d, err %v", w.Code, err)
	}
	if doc["AccountId"] != "123456789012" || doc["Code"] != "Success" || doc["AccessKeyId"] != creds.AccessKeyID {
		t.Errorf("extended document = %v, want the legacy keys plus AccountId 123456789012", doc)
	}
	if got := body(do(s, http.MethodGet, PathExtendedCredentials+"/")); got != "demo" {
		t.Errorf("extended listing = %q, want %q", got, "demo")
	}
}

func TestServer_CredentialPaths(t *testing.T) {
	clk := newFakeClock()
	good := Role{Name: "demo", Credentials: testCreds(clk.Now())}
	expired := good
	expired.Credentials.Expires = clk.Now().Add(-time.Second)
	failing := Role{Name: "demo", Err: codedErr{"AccessDenied", "AssumeRole failed: AccessDenied: not authorized"}}
	plainFail := Role{Name: "demo", Err: errors.New("waiting for the first credentials")}

	tests := []struct {
		name     string
		role     Role
		err      error
		path     string
		wantCode int
		wantBody string // exact, when set
		wantDoc  map[string]string
	}{
		{"listing exact one line", good, nil, PathSecurityCredentials + "/", 200, "demo", nil},
		{"listing without slash (Rust SDK)", good, nil, PathSecurityCredentials, 200, "demo", nil},
		{"listing with several slashes", good, nil, PathSecurityCredentials + "//", 200, "demo", nil},
		{"document with trailing slash", good, nil, PathSecurityCredentials + "/demo/", 200, "", map[string]string{"Code": "Success"}},
		{"unknown role name", good, nil, PathSecurityCredentials + "/other", 404, "", nil},
		{"role name prefix", good, nil, PathSecurityCredentials + "/dem", 404, "", nil},
		{"deeper path", good, nil, PathSecurityCredentials + "/demo/x", 404, "", nil},
		{"no role: listing", Role{}, ErrNoRole, PathSecurityCredentials + "/", 404, "", nil},
		{"no role: document", Role{}, ErrNoRole, PathSecurityCredentials + "/demo", 404, "", nil},
		{"no role: iam", Role{}, ErrNoRole, PathIAM + "/", 404, "", nil},
		{"no role: extended", Role{}, ErrNoRole, PathExtendedCredentials + "/", 404, "", nil},
		{"caller unknown", Role{}, errors.New("container not identified yet"), PathSecurityCredentials + "/", 503, "", nil},
		{"failing role still listed", failing, nil, PathSecurityCredentials + "/", 200, "demo", nil},
		{"failing role error document", failing, nil, PathSecurityCredentials + "/demo", 200, "",
			map[string]string{"Code": "AccessDenied", "Message": "AssumeRole failed: AccessDenied: not authorized"}},
		{"not ready error document", plainFail, nil, PathSecurityCredentials + "/demo", 200, "",
			map[string]string{"Code": "CredentialsUnavailable", "Message": "waiting for the first credentials"}},
		{"expired never served", expired, nil, PathSecurityCredentials + "/demo", 200, "", map[string]string{"Code": "CredentialsExpired"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t, Options{Source: staticSource(tt.role, tt.err), Now: clk.Now})
			w := do(s, http.MethodGet, tt.path)
			if w.Code != tt.wantCode {
				t.Fatalf("status = %d, want %d (body %q)", w.Code, tt.wantCode, body(w))
			}
			got := body(w)
			if tt.wantBody != "" && got != tt.wantBody {
				t.Errorf("body = %q, want %q", got, tt.wantBody)
			}
			if tt.wantDoc != nil {
				var doc map[string]string
				if err := json.Unmarshal([]byte(got), &doc); err != nil {
					t.Fatalf("body %q is not a JSON document: %v", got, err)
				}
				for k, v := range tt.wantDoc {
					if doc[k] != v {
						t.Errorf("%s = %q, want %q", k, doc[k], v)
					}
				}
				if doc["Code"] != "Success" && (doc["SecretAccessKey"] != "" || doc["Token"] != "") {
					t.Errorf("error document carries credentials: %v", keys(doc))
				}
			}
		})
	}
}

func TestServer_CachedDocumentFollowsRotation(t *testing.T) {
	clk := newFakeClock()
	c1 := testCreds(clk.Now())
	c2 := c1
	c2.AccessKeyID, c2.SecretAccessKey, c2.Expires = "ASIASECONDKEY0000000", "second", c1.Expires.Add(30*time.Minute)
	cur := c1
	src := fakeSource{fn: func(_ context.Context, _ Caller) (Role, error) { return Role{Name: "demo", Credentials: cur}, nil }}
	s, _ := newTestServer(t, Options{Source: src, Now: clk.Now})
	if got := body(do(s, http.MethodGet, PathSecurityCredentials+"/demo")); !strings.Contains(got, c1.AccessKeyID) {
		t.Fatalf("first document lacks the first key")
	}
	cur = c2
	got := body(do(s, http.MethodGet, PathSecurityCredentials+"/demo"))
	if !strings.Contains(got, c2.AccessKeyID) || !strings.Contains(got, formatTime(c2.Expires)) {
		t.Fatalf("document after rotation still shows the old set")
	}
}
