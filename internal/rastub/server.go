package rastub

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Service error codes, as the real service answers.
const (
	CodeAccessDenied = "AccessDeniedException"
	CodeValidation   = "ValidationException"
)

// Anchor is a trust anchor: its ARN and CA certificate.
type Anchor struct {
	ARN string
	CA  *x509.Certificate
}

// Options configure a Server.
type Options struct {
	// Anchors are the trust anchors; Profiles the profile ARNs; Roles
	// the role ARNs a profile may give.
	Anchors  []Anchor
	Profiles []string
	Roles    []string
	// Now is the clock of signature dates and certificate validity;
	// time.Now when nil.
	Now func() time.Time
}

// Request is one request the stand-in received, with its outcome.
type Request struct {
	Algorithm      string
	Serial         string // the leaf's serial, decimal
	Subject        string
	ChainLen       int
	TrustAnchorARN string
	ProfileARN     string
	RoleARN        string
	Duration       int64
	SessionName    string
	// Status is the HTTP status answered; Refusal the reason of a
	// refusal ("" on success).
	Status  int
	Refusal string
}

// Server is the stand-in: an httptest server.
type Server struct {
	*httptest.Server
	opts Options

	mu   sync.Mutex
	reqs []Request
}

// New starts a stand-in, closed when the test ends.
func New(t testing.TB, opts Options) *Server {
	s := &Server{opts: opts}
	s.Server = httptest.NewServer(s)
	t.Cleanup(s.Close)
	return s
}

// Requests returns what the stand-in received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// ServeHTTP answers CreateSession.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := Request{
		TrustAnchorARN: r.URL.Query().Get("trustAnchorArn"),
		ProfileARN:     r.URL.Query().Get("profileArn"),
		RoleARN:        r.URL.Query().Get("roleArn"),
	}
	status, body, code, err := s.handle(r, &rec)
	rec.Status = status
	if err != nil {
		rec.Refusal = err.Error()
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, rec)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.Header().Set("X-Amzn-ErrorType", code)
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": err.Error()})
		return
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) handle(r *http.Request, rec *Request) (int, *SessionOutput, string, error) {
	if r.Method != http.MethodPost || r.URL.Path != "/sessions" {
		return http.StatusNotFound, nil, "UnknownOperationException", fmt.Errorf("no operation %s %s", r.Method, r.URL.Path)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		return http.StatusBadRequest, nil, CodeValidation, err
	}
	v, err := verify(r, body, s.now())
	if err != nil {
		return http.StatusForbidden, nil, CodeAccessDenied, err
	}
	rec.Algorithm, rec.Serial, rec.Subject, rec.ChainLen = v.algorithm, v.leaf.SerialNumber.String(), v.leaf.Subject.String(), len(v.chain)
	anchor, ok := s.anchor(rec.TrustAnchorARN)
	if !ok {
		return http.StatusForbidden, nil, CodeAccessDenied, fmt.Errorf("unknown trust anchor %q", rec.TrustAnchorARN)
	}
	if region := arnRegion(anchor.ARN); region != v.region {
		return http.StatusForbidden, nil, CodeAccessDenied, fmt.Errorf("signed for region %q, trust anchor in %q", v.region, region)
	}
	if err := verifyChain(v.leaf, v.chain, anchor.CA, s.now()); err != nil {
		return http.StatusForbidden, nil, CodeAccessDenied, err
	}
	if !contains(s.opts.Profiles, rec.ProfileARN) {
		return http.StatusForbidden, nil, CodeAccessDenied, fmt.Errorf("unknown profile %q", rec.ProfileARN)
	}
	if !contains(s.opts.Roles, rec.RoleARN) {
		return http.StatusForbidden, nil, CodeAccessDenied, fmt.Errorf("role %q is not in the profile", rec.RoleARN)
	}
	var in struct {
		DurationSeconds *int64 `json:"durationSeconds"`
		RoleSessionName string `json:"roleSessionName"`
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			return http.StatusBadRequest, nil, CodeValidation, fmt.Errorf("body: %v", err)
		}
	}
	rec.Duration, rec.SessionName = 3600, in.RoleSessionName
	if in.DurationSeconds != nil {
		rec.Duration = *in.DurationSeconds
	}
	if rec.Duration < 900 || rec.Duration > 43200 {
		return http.StatusBadRequest, nil, CodeValidation, fmt.Errorf("durationSeconds %d: must be 900 to 43200", rec.Duration)
	}
	return http.StatusCreated, s.output(rec, v), "", nil
}

// SessionOutput is CreateSession's documented answer.
type SessionOutput struct {
	CredentialSet []CredentialResponse `json:"credentialSet"`
	SubjectARN    string               `json:"subjectArn"`
	EnrollmentARN string               `json:"enrollmentArn"`
}

// CredentialResponse is one set of the answer.
type CredentialResponse struct {
	AssumedRoleUser  AssumedRoleUser `json:"assumedRoleUser"`
	Credentials      Credentials     `json:"credentials"`
	PackedPolicySize int             `json:"packedPolicySize"`
	RoleARN          string          `json:"roleArn"`
	SourceIdentity   string          `json:"sourceIdentity"`
}

// AssumedRoleUser names the session.
type AssumedRoleUser struct {
	ARN           string `json:"arn"`
	AssumedRoleID string `json:"assumedRoleId"`
}

// Credentials are the session's credentials.
type Credentials struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	SessionToken    string `json:"sessionToken"`
	Expiration      string `json:"expiration"`
}

func (s *Server) output(rec *Request, v verified) *SessionOutput {
	name := rec.SessionName
	if name == "" {
		name = rec.Serial
	}
	account := arnAccount(rec.RoleARN)
	roleName := rec.RoleARN[strings.LastIndex(rec.RoleARN, "/")+1:]
	return &SessionOutput{
		CredentialSet: []CredentialResponse{{
			AssumedRoleUser: AssumedRoleUser{
				ARN:           "arn:aws:sts::" + account + ":assumed-role/" + roleName + "/" + name,
				AssumedRoleID: "AROA" + strings.ToUpper(randHex(8)) + ":" + name,
			},
			Credentials: Credentials{
				AccessKeyID:     "ASIA" + strings.ToUpper(randHex(8)),
				SecretAccessKey: randHex(20),
				SessionToken:    randHex(64),
				Expiration:      s.now().Add(time.Duration(rec.Duration) * time.Second).UTC().Format(time.RFC3339),
			},
			RoleARN:        rec.RoleARN,
			SourceIdentity: "CN=" + v.leaf.Subject.CommonName,
		}},
		SubjectARN:    strings.Replace(rec.TrustAnchorARN, ":trust-anchor/", ":subject/", 1),
		EnrollmentARN: rec.TrustAnchorARN,
	}
}

func (s *Server) anchor(arn string) (Anchor, bool) {
	for _, a := range s.opts.Anchors {
		if a.ARN == arn {
			return a, true
		}
	}
	return Anchor{}, false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func arnRegion(arn string) string  { return arnField(arn, 3) }
func arnAccount(arn string) string { return arnField(arn, 4) }

func arnField(arn string, i int) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[i]
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
