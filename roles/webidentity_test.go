package roles

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imdsd/imdsd/internal/motoserver"
	"github.com/imdsd/imdsd/internal/stsrecord"
)

const webRoleARN = "arn:aws:iam::123456789012:role/ci-deploy"

// testJWT returns an unsigned token shaped like a JWT whose exp claim is
// exp and whose jti is random, so two tokens always differ.
func testJWT(t *testing.T, exp time.Time) string {
	t.Helper()
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	enc := base64.RawURLEncoding
	claims, _ := json.Marshal(map[string]any{"iss": "https://token.actions.githubusercontent.com", "aud": "sts.amazonaws.com",
		"sub": "repo:imdsd/imdsd:ref:refs/heads/main", "exp": exp.Unix(), "jti": hex.EncodeToString(nonce)})
	return enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc.EncodeToString(claims) + "." + enc.EncodeToString(nonce)
}

// sentToken checks that STS received want as the WebIdentityToken of its
// last AssumeRoleWithWebIdentity, without printing either token.
func sentToken(t *testing.T, rec *stsrecord.Recorder, want, which string) {
	t.Helper()
	last, ok := rec.Last("AssumeRoleWithWebIdentity")
	switch {
	case !ok:
		t.Fatalf("%s: STS received no AssumeRoleWithWebIdentity", which)
	case last.Form.Get("WebIdentityToken") != want:
		t.Fatalf("%s: STS received another WebIdentityToken than the %s (%d bytes, want %d; tokens not shown)", which, which, len(last.Form.Get("WebIdentityToken")), len(want))
	case last.AccessKeyID != "":
		t.Errorf("%s: AssumeRoleWithWebIdentity was signed with %s; it takes no source credentials", which, last.AccessKeyID)
	}
}

// noTokenIn fails when an error text holds a token.
func noTokenIn(t *testing.T, text string, tokens ...string) {
	t.Helper()
	for _, tok := range tokens {
		if tok != "" && strings.Contains(text, tok) {
			t.Fatalf("the text holds the web identity token (text not shown)")
		}
	}
}

// webEnv keeps the SDK's own sources out: a web identity role must work
// with no source credentials at all.
func webEnv(t *testing.T) {
	t.Helper()
	isolateAWSEnv(t, "", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
}

// TestWebIdentity_TokenFileRotated: the token file is read again at every
// fetch: after it is replaced, the next fetch sends the new token.
func TestWebIdentity_TokenFileRotated(t *testing.T) {
	webEnv(t)
	rec := stsrecord.Start(t, motoserver.Start(t).URL)
	file := filepath.Join(t.TempDir(), "token")
	first, second := testJWT(t, time.Now().Add(time.Hour)), testJWT(t, time.Now().Add(2*time.Hour))
	if err := os.WriteFile(file, []byte(first+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Resolve(context.Background(), Def{RoleARN: webRoleARN, STSEndpoint: rec.URL, WebIdentityTokenFile: file, SessionName: "ci-job-1"}.Spec())
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "ci-deploy" || !strings.Contains(r.Source, file) {
		t.Errorf("resolved %q from %q, want ci-deploy from the token file", r.Name, r.Source)
	}
	c, err := r.Fetcher.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessKeyID == "" || !c.CanExpire {
		t.Errorf("credentials %s, expiring %v: want a session", KeyTail(c.AccessKeyID), c.CanExpire)
	}
	sentToken(t, rec, first, "first token")
	last, _ := rec.Last("AssumeRoleWithWebIdentity")
	if got := last.Form.Get("RoleSessionName"); got != "ci-job-1" {
		t.Errorf("RoleSessionName %q, want ci-job-1", got)
	}
	if got := last.Form.Get("DurationSeconds"); got != "3600" {
		t.Errorf("DurationSeconds %q, want 3600 (DefaultDuration)", got)
	}
	// Rotate as kubelet and CI runners do: write a new file, rename it over.
	tmp := file + ".new"
	if err := os.WriteFile(tmp, []byte(second), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Fetcher.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	sentToken(t, rec, second, "rotated token")
}

// TestWebIdentity_BadToken: a token that is missing, empty, expired, or
// whose command fails or hangs is refused before STS is asked, with
// KindWebIdentityToken and an error that names the source but never
// holds the token.
func TestWebIdentity_BadToken(t *testing.T) {
	webEnv(t)
	rec := stsrecord.Start(t, motoserver.Start(t).URL)
	dir := t.TempDir()
	expired := testJWT(t, time.Now().Add(-time.Minute))
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		def  Def
		want string
	}{
		{"missing file", Def{WebIdentityTokenFile: filepath.Join(dir, "absent")}, "does not exist"},
		{"empty file", Def{WebIdentityTokenFile: write("empty", " \n")}, "empty"},
		{"expired token", Def{WebIdentityTokenFile: write("expired", expired)}, "expired at"},
		{"command fails", Def{WebIdentityTokenCommand: "echo " + expired + " >&2; exit 3"}, "stderr are not shown"},
		{"command prints nothing", Def{WebIdentityTokenCommand: "true"}, "empty"},
		{"unreadable file", Def{WebIdentityTokenFile: dir}, "cannot read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			def := tc.def
			def.RoleARN, def.STSEndpoint = webRoleARN, rec.URL
			r, err := Resolve(context.Background(), def.Spec())
			if err != nil {
				t.Fatal(err)
			}
			before := len(rec.Requests())
			_, err = r.Fetcher.Fetch(context.Background())
			if err == nil {
				t.Fatal("fetch succeeded, want it refused")
			}
			noTokenIn(t, err.Error(), expired)
			if k := Classify(err); k != KindWebIdentityToken {
				t.Errorf("kind %s, want %s (error: %v)", k, KindWebIdentityToken, err)
			}
			if !errors.Is(err, ErrWebIdentityToken) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want ErrWebIdentityToken saying %q", err, tc.want)
			}
			if n := len(rec.Requests()) - before; n != 0 {
				t.Errorf("STS was asked %d times with a token known bad", n)
			}
		})
	}
}

// TestWebIdentity_CommandTimeout: a token command that hangs is stopped
// at its timeout.
func TestWebIdentity_CommandTimeout(t *testing.T) {
	src := tokenCommand{command: "sleep 30", timeout: 50 * time.Millisecond}
	_, err := src.token(context.Background())
	if !errors.Is(err, ErrWebIdentityToken) || !strings.Contains(err.Error(), "did not finish within 50ms") {
		t.Fatalf("error %v, want the timeout named", err)
	}
}

// TestWebIdentity_Command: the command's standard output is the token
// STS receives; it runs again at every fetch.
func TestWebIdentity_Command(t *testing.T) {
	webEnv(t)
	rec := stsrecord.Start(t, motoserver.Start(t).URL)
	file := filepath.Join(t.TempDir(), "tok")
	r, err := Resolve(context.Background(), Def{RoleARN: webRoleARN, STSEndpoint: rec.URL, WebIdentityTokenCommand: "cat '" + file + "'"}.Spec())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		tok := testJWT(t, time.Now().Add(time.Hour))
		if err := os.WriteFile(file, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Fetcher.Fetch(context.Background()); err != nil {
			t.Fatalf("fetch %d: %v", i, err)
		}
		sentToken(t, rec, tok, "command's token")
	}
}

// gitHubOIDC is an httptest stand-in of GitHub Actions' OIDC request
// endpoint: like GitHub it answers only a GET with the job's bearer token,
// and puts the audience query parameter in the token's aud claim.
type gitHubOIDC struct {
	srv       *httptest.Server
	bearer    string
	audiences []string
	tokens    []string
}

func newGitHubOIDC(t *testing.T) *gitHubOIDC {
	g := &gitHubOIDC{bearer: "ghs_requesttoken" + strings.Repeat("x", 20)}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.Header.Get("Authorization") != "Bearer "+g.bearer || r.URL.Query().Get("api-version") != "2.0" {
			http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
			return
		}
		aud := r.URL.Query().Get("audience")
		g.audiences = append(g.audiences, aud)
		tok := testJWT(t, time.Now().Add(5*time.Minute))
		g.tokens = append(g.tokens, tok)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"count": 1, "value": tok})
	}))
	t.Cleanup(g.srv.Close)
	return g
}

// TestWebIdentity_GitHub: the token comes from GitHub's OIDC endpoint,
// asked with the job's bearer token and the audience; a wrong bearer or a
// job without id-token permission is a clear web-identity-token failure.
func TestWebIdentity_GitHub(t *testing.T) {
	webEnv(t)
	rec := stsrecord.Start(t, motoserver.Start(t).URL)
	g := newGitHubOIDC(t)
	t.Setenv(EnvGitHubTokenURL, g.srv.URL+"/_apis/token?api-version=2.0")
	t.Setenv(EnvGitHubTokenToken, g.bearer)
	for _, tc := range []struct{ audience, want string }{{"", DefaultWebIdentityAudience}, {"sts.amazonaws.com.cn", "sts.amazonaws.com.cn"}} {
		def := Def{RoleARN: webRoleARN, STSEndpoint: rec.URL, WebIdentityGitHub: true, WebIdentityAudience: tc.audience}
		r, err := Resolve(context.Background(), def.Spec())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Fetcher.Fetch(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := g.audiences[len(g.audiences)-1]; got != tc.want {
			t.Errorf("audience %q, want %q", got, tc.want)
		}
		sentToken(t, rec, g.tokens[len(g.tokens)-1], "GitHub token")
	}

	r, err := Resolve(context.Background(), Def{RoleARN: webRoleARN, STSEndpoint: rec.URL, WebIdentityGitHub: true}.Spec())
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvGitHubTokenToken, "wrong-bearer-token-value")
	_, err = r.Fetcher.Fetch(context.Background())
	if Classify(err) != KindWebIdentityToken || !strings.Contains(fmtErr(err), "401") {
		t.Errorf("wrong bearer: %v, want a web-identity-token failure saying 401", err)
	}
	noTokenIn(t, fmtErr(err), "wrong-bearer-token-value", g.bearer)
	t.Setenv(EnvGitHubTokenURL, "")
	_, err = r.Fetcher.Fetch(context.Background())
	if Classify(err) != KindWebIdentityToken || !strings.Contains(fmtErr(err), "id-token: write") {
		t.Errorf("no endpoint: %v, want advice on the id-token permission", err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestWebIdentity_SessionPolicy: AssumeRoleWithWebIdentity carries the
// session policy (compacted) and the managed policy ARNs.
func TestWebIdentity_SessionPolicy(t *testing.T) {
	webEnv(t)
	rec := stsrecord.Start(t, motoserver.Start(t).URL)
	dir := t.TempDir()
	tokFile, polFile := filepath.Join(dir, "t"), filepath.Join(dir, "p.json")
	_ = os.WriteFile(tokFile, []byte(testJWT(t, time.Now().Add(time.Hour))), 0o600)
	_ = os.WriteFile(polFile, []byte("{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"s3:GetObject\", \"Resource\": \"*\"}]\n}\n"), 0o600)
	def := Def{RoleARN: webRoleARN, STSEndpoint: rec.URL, WebIdentityTokenFile: tokFile, PolicyFile: polFile,
		PolicyARNs: NewList([]string{"arn:aws:iam::aws:policy/ReadOnlyAccess"})}
	r, err := Resolve(context.Background(), def.Spec())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Fetcher.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	last, _ := rec.Last("AssumeRoleWithWebIdentity")
	if got, want := last.Form.Get("Policy"), `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`; got != want {
		t.Errorf("Policy %q, want %q", got, want)
	}
	if got := last.Form.Get("PolicyArns.member.1.arn"); got != "arn:aws:iam::aws:policy/ReadOnlyAccess" {
		t.Errorf("PolicyArns.member.1.arn %q", got)
	}
}

// TestTokenExpiry: exp is read from a JWT without verifying it; anything
// else has none.
func TestTokenExpiry(t *testing.T) {
	at := time.Unix(1900000000, 0)
	if got, ok := TokenExpiry(testJWT(t, at)); !ok || !got.Equal(at) {
		t.Errorf("TokenExpiry = %v, %v; want %v", got, ok, at)
	}
	for _, tok := range []string{"opaque-token", "a.b.c", "a.!!!.c", "x." + base64.RawURLEncoding.EncodeToString([]byte(`{"exp":"soon"}`)) + ".y"} {
		if _, ok := TokenExpiry(tok); ok {
			t.Errorf("TokenExpiry(%q) found an expiry", tok)
		}
	}
}

// TestWebIdentity_EchoingSTSNeverShowsToken: an endpoint at sts_endpoint
// that echoes the request into its error (a stand-in for a misconfigured
// proxy; real STS does not echo) does not put the token in the error, which
// is still sorted as STS's refusal of the token.
func TestWebIdentity_EchoingSTSNeverShowsToken(t *testing.T) {
	webEnv(t)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>bad token ` +
			r.PostForm.Get("WebIdentityToken") + `</Message></Error><RequestId>1</RequestId></ErrorResponse>`))
	}))
	t.Cleanup(echo.Close)
	tok := testJWT(t, time.Now().Add(time.Hour))
	file := filepath.Join(t.TempDir(), "t")
	_ = os.WriteFile(file, []byte(tok), 0o600)
	r, err := Resolve(context.Background(), Def{RoleARN: webRoleARN, STSEndpoint: echo.URL, WebIdentityTokenFile: file}.Spec())
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Fetcher.Fetch(context.Background())
	if err == nil {
		t.Fatal("fetch succeeded against a refusing STS")
	}
	noTokenIn(t, err.Error(), tok)
	if k := Classify(err); k != KindWebIdentityToken {
		t.Errorf("kind %s, want %s", k, KindWebIdentityToken)
	}
	if ErrorCode(err) != "InvalidIdentityToken" {
		t.Errorf("code %q, want InvalidIdentityToken", ErrorCode(err))
	}
}
