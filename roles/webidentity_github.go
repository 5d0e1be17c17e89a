package roles

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"
)

// GitHub Actions' OIDC request endpoint: a job with `permissions:
// id-token: write` has these in its environment, and a GET of the URL with
// the bearer token and an audience answers {"value": JWT}.
const (
	EnvGitHubTokenURL   = "ACTIONS_ID_TOKEN_REQUEST_URL"
	EnvGitHubTokenToken = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
	gitHubTimeout       = 10 * time.Second
)

// gitHubToken asks GitHub's OIDC endpoint for a token at every fetch. The
// environment is read each time too, so a test (or a wrapper) may set it
// after start.
type gitHubToken struct {
	audience string
	getenv   func(string) string
	client   *http.Client
}

func newGitHubToken(audience string) gitHubToken {
	return gitHubToken{audience: audience, getenv: os.Getenv, client: &http.Client{Timeout: gitHubTimeout}}
}

func (g gitHubToken) String() string { return "GitHub Actions OIDC (audience " + g.audience + ")" }

func (g gitHubToken) token(ctx context.Context) (string, error) {
	raw, bearer := g.getenv(EnvGitHubTokenURL), g.getenv(EnvGitHubTokenToken)
	if raw == "" || bearer == "" {
		return "", tokenError(g, fmt.Sprintf("%s and %s are not both set: run imdsd inside the job, and give the job `permissions: id-token: write`", EnvGitHubTokenURL, EnvGitHubTokenToken), nil)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", tokenError(g, EnvGitHubTokenURL+" is not an http(s) URL", nil)
	}
	q := u.Query()
	q.Set("audience", g.audience)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", tokenError(g, "cannot build the request", err)
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Accept", "application/json")
	resp, err := g.client.Do(req)
	if err != nil {
		// url.Error names the URL, which holds no secret (the bearer is a
		// header).
		return "", tokenError(g, "the request failed", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxWebIdentityToken+1))
	if err != nil {
		return "", tokenError(g, "cannot read the answer", err)
	}
	if resp.StatusCode != http.StatusOK {
		// The body is not shown: an endpoint may echo the request.
		return "", tokenError(g, fmt.Sprintf("the endpoint answered %s", resp.Status), nil)
	}
	var out struct {
		Value string `json:"value"`
	}
	if len(body) > MaxWebIdentityToken || json.Unmarshal(body, &out) != nil {
		return "", tokenError(g, `the answer is not JSON {"value": TOKEN}`, nil)
	}
	return out.Value, nil
}
