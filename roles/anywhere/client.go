package anywhere

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
)

// SessionsPath is CreateSession's path.
const SessionsPath = "/sessions"

// maxResponse bounds what is read of an answer.
const maxResponse = 1 << 20

// Errors of CreateSession, matched with errors.Is.
var (
	ErrCertExpired = errors.New("the certificate has expired: renew it (the daemon reads the new file at its next refresh)")
	ErrCertNotYet  = errors.New("the certificate is not valid yet: check the clock, or the certificate's notBefore")
	ErrBadResponse = errors.New("CreateSession answered with no credentials")
)

// Endpoint returns CreateSession's endpoint in region.
func Endpoint(region string) string {
	return "https://rolesanywhere." + region + ".amazonaws.com"
}

// Input is what CreateSession is asked for.
type Input struct {
	TrustAnchorARN string
	ProfileARN     string
	RoleARN        string
	// Duration of the session; zero lets the profile's default apply.
	Duration time.Duration
	// SessionName is the role session name; empty lets the service name
	// it after the certificate's serial number.
	SessionName string
}

// Client calls CreateSession.
type Client struct {
	// HTTP is the client requests go through; http.DefaultClient when nil.
	HTTP *http.Client
	// Endpoint is the service's base URL; Endpoint(Region) when empty.
	Endpoint string
	// Region is the signing region: the trust anchor's.
	Region string
	// Now is the signing clock; time.Now when nil.
	Now func() time.Time
}

type createSessionBody struct {
	DurationSeconds int64  `json:"durationSeconds,omitempty"`
	RoleSessionName string `json:"roleSessionName,omitempty"`
}

// Output is CreateSession's answer (the fields imdsd reads).
type Output struct {
	CredentialSet []struct {
		Credentials struct {
			AccessKeyID     string `json:"accessKeyId"`
			SecretAccessKey string `json:"secretAccessKey"`
			SessionToken    string `json:"sessionToken"`
			Expiration      string `json:"expiration"`
		} `json:"credentials"`
		RoleARN string `json:"roleArn"`
	} `json:"credentialSet"`
	SubjectARN string `json:"subjectArn"`
}

type errorBody struct {
	Message string `json:"message"`
}

// CreateSession signs a CreateSession request with id and returns the
// role's credentials with the expiration the service gave. A refusal is a
// smithy.APIError with the service's code (AccessDeniedException, say).
func (c Client) CreateSession(ctx context.Context, id Identity, in Input) (aws.Credentials, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	t := now()
	if t.After(id.Leaf.NotAfter) {
		return aws.Credentials{}, fmt.Errorf("certificate serial %s expired at %s: %w", id.Leaf.SerialNumber, id.Leaf.NotAfter.UTC().Format(time.RFC3339), ErrCertExpired)
	}
	if t.Before(id.Leaf.NotBefore) {
		return aws.Credentials{}, fmt.Errorf("certificate serial %s valid from %s: %w", id.Leaf.SerialNumber, id.Leaf.NotBefore.UTC().Format(time.RFC3339), ErrCertNotYet)
	}
	base := c.Endpoint
	if base == "" {
		base = Endpoint(c.Region)
	}
	u, err := url.Parse(strings.TrimSuffix(base, "/") + SessionsPath)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("rolesanywhere endpoint %q: %w", base, err)
	}
	q := url.Values{}
	q.Set("profileArn", in.ProfileARN)
	q.Set("roleArn", in.RoleARN)
	q.Set("trustAnchorArn", in.TrustAnchorARN)
	u.RawQuery = q.Encode()
	body, err := json.Marshal(createSessionBody{DurationSeconds: int64(in.Duration / time.Second), RoleSessionName: in.SessionName})
	if err != nil {
		return aws.Credentials{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("CreateSession request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if err := Sign(req, body, id, c.Region, t); err != nil {
		return aws.Credentials{}, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("CreateSession: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("CreateSession: read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return aws.Credentials{}, fmt.Errorf("CreateSession: %w", apiError(resp, data))
	}
	return credentialsOf(data)
}

// apiError is the service's refusal as the SDKs see it: the code from
// X-Amzn-ErrorType (or the body's __type), the body's message.
func apiError(resp *http.Response, data []byte) error {
	code := resp.Header.Get("X-Amzn-ErrorType")
	var b struct {
		errorBody
		Type string `json:"__type"`
	}
	_ = json.Unmarshal(data, &b)
	if code == "" {
		code = b.Type
	}
	code, _, _ = strings.Cut(code, ":")
	if code == "" {
		code = fmt.Sprintf("HTTP%d", resp.StatusCode)
	}
	msg := b.Message
	if len(msg) > 300 {
		msg = msg[:300]
	}
	return &smithy.GenericAPIError{Code: code, Message: fmt.Sprintf("%s (HTTP %d)", msg, resp.StatusCode)}
}

func credentialsOf(data []byte) (aws.Credentials, error) {
	var out Output
	if err := json.Unmarshal(data, &out); err != nil {
		return aws.Credentials{}, fmt.Errorf("CreateSession: %w: %v", ErrBadResponse, err)
	}
	if len(out.CredentialSet) == 0 || out.CredentialSet[0].Credentials.AccessKeyID == "" {
		return aws.Credentials{}, fmt.Errorf("CreateSession: %w", ErrBadResponse)
	}
	cr := out.CredentialSet[0].Credentials
	exp, err := time.Parse(time.RFC3339, cr.Expiration)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("CreateSession: expiration %q: %w", cr.Expiration, ErrBadResponse)
	}
	return aws.Credentials{
		AccessKeyID:     cr.AccessKeyID,
		SecretAccessKey: cr.SecretAccessKey,
		SessionToken:    cr.SessionToken,
		Source:          "RolesAnywhere",
		CanExpire:       true,
		Expires:         exp,
	}, nil
}
