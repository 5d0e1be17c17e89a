package imds

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestServer_DoubledLeadingSlash: the AWS SDK for JavaScript v2 with
// AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:9254/ (the value the
// AWS CLI v2 needs) asks for "//latest/api/token" and
// "//latest/meta-data/...": they must be served as the single-slash paths
// (issue 16).
func TestServer_DoubledLeadingSlash(t *testing.T) {
	now := time.Now()
	src := staticSource(Role{Name: "demo", Credentials: testCreds(now)}, nil)
	srv, _ := newTestServer(t, Options{Source: src, TokenRequired: true, Now: func() time.Time { return now }})
	req := httptest.NewRequest(http.MethodPut, "http://127.0.0.1//latest/api/token", nil)
	req.Header.Set(HeaderTokenTTL, "60")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("PUT //latest/api/token: got %d, want 200", rec.Code)
	}
	token := rec.Body.String()
	for _, path := range []string{"//latest/meta-data/iam/security-credentials/", "///latest/meta-data/placement/region"} {
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1"+path, nil)
		req.Header.Set(HeaderToken, token)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s: got %d, want 200", path, rec.Code)
		}
	}
}
