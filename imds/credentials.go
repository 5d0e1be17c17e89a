package imds

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// Credential document codes and type, as real IMDS sends them.
const (
	codeSuccess     = "Success"
	typeAWSHMAC     = "AWS-HMAC"
	codeUnavailable = "CredentialsUnavailable"
	codeExpired     = "CredentialsExpired"
)

// timeFormat is RFC 3339 at seconds precision in UTC: botocore parses the
// expiry with strptime("%Y-%m-%dT%H:%M:%SZ") and skips its safety logic on
// anything else (imds-protocol.md §2.3).
const timeFormat = "2006-01-02T15:04:05Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// credentialDocument is the body of .../security-credentials/<role>
// (EC2 User Guide, iam-roles-for-amazon-ec2).
type credentialDocument struct {
	Code            string `json:"Code"`
	LastUpdated     string `json:"LastUpdated"`
	Type            string `json:"Type"`
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Token           string `json:"Token"`
	Expiration      string `json:"Expiration"`
	// AccountID is sent only on the extended path (§2.4).
	AccountID string `json:"AccountId,omitempty"`
}

// errorDocument is what real IMDS sends, with status 200, when it cannot
// hand out credentials for the role (botocore's retrieve_iam_role_credentials
// comment; the Go SDK reports Code and Message).
type errorDocument struct {
	Code        string `json:"Code"`
	Message     string `json:"Message"`
	LastUpdated string `json:"LastUpdated"`
}

// renderedDoc caches the rendered credential documents of one credential
// set, so that the hot path only compares a key and writes bytes.
type renderedDoc struct {
	accessKeyID string
	keyTail     string // for the audit line (audit.go)
	expires     time.Time
	legacy      []byte
	extended    []byte
}

// document returns the rendered documents for role's current credentials.
func (s *Server) document(role string, c Credentials) *renderedDoc {
	if d, ok := (*s.docs.Load())[role]; ok && d.accessKeyID == c.AccessKeyID && d.expires.Equal(c.Expires) {
		return d
	}
	doc := credentialDocument{
		Code:            codeSuccess,
		LastUpdated:     formatTime(c.LastUpdated),
		Type:            typeAWSHMAC,
		AccessKeyID:     c.AccessKeyID,
		SecretAccessKey: c.SecretAccessKey,
		Token:           c.SessionToken,
		Expiration:      formatTime(c.Expires),
	}
	d := &renderedDoc{accessKeyID: c.AccessKeyID, keyTail: keyTail(c.AccessKeyID), expires: c.Expires}
	d.legacy = mustJSON(doc)
	doc.AccountID = c.AccountID
	d.extended = mustJSON(doc)

	s.docsMu.Lock()
	defer s.docsMu.Unlock()
	old := *s.docs.Load()
	next := make(map[string]*renderedDoc, len(old)+1)
	if len(old) < maxRenderedRoles {
		for k, v := range old {
			next[k] = v
		}
	}
	next[role] = d
	s.docs.Store(&next)
	return d
}

// maxRenderedRoles bounds the rendered-document cache; past it the cache
// starts again (roles removed by a reload do not linger forever).
const maxRenderedRoles = 256

func mustJSON(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		// Only strings are marshalled; this cannot fail.
		panic("imds: marshal: " + err.Error())
	}
	return b
}

// lookup asks the Source for the caller's role and writes the answer for
// "no role" (404) and "caller not identified" (503) itself.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) (Role, bool) {
	role, _, ok := s.lookupCaller(w, r)
	return role, ok
}

// lookupCaller is lookup that also returns the identified caller.
func (s *Server) lookupCaller(w http.ResponseWriter, r *http.Request) (Role, Caller, bool) {
	c := s.caller(r)
	role, err := s.opts.Source.Credentials(r.Context(), c)
	switch {
	case errors.Is(err, ErrNoRole):
		writeError(w, http.StatusNotFound)
		return Role{}, c, false
	case errors.Is(err, ErrForbidden):
		// The caller falls under rules but cannot be identified: refuse
		// rather than guess (security.go).
		s.logs.clientRefused.logf(attrCaller, connOf(r).key.String(), attrClient, r.RemoteAddr, "err", err)
		writeError(w, http.StatusForbidden)
		return Role{}, c, false
	case err != nil:
		s.logs.noRole.logf(attrCaller, connOf(r).key.String(), attrClient, r.RemoteAddr, "err", err)
		writeError(w, http.StatusServiceUnavailable)
		return Role{}, c, false
	}
	return role, c, true
}

// handleRoleListing serves the role listing: exactly one role name and no
// trailing newline, because botocore uses the body raw as the role name
// (imds-protocol.md §2.2).
func (s *Server) handleRoleListing(w http.ResponseWriter, r *http.Request) {
	role, ok := s.lookup(w, r)
	if !ok {
		return
	}
	writeText(w, role.Name)
}

// handleCredentials serves the credential document of the caller's role, on
// the legacy or the extended path; rt.role is the role the path asks for,
// now the time the request is served at.
func (s *Server) handleCredentials(w http.ResponseWriter, r *http.Request, rt route, now time.Time) {
	role, caller, ok := s.lookupCaller(w, r)
	if !ok {
		return
	}
	if rt.role != role.Name {
		writeError(w, http.StatusNotFound)
		return
	}
	if role.Err != nil {
		s.writeErrorDocument(w, errorCode(role.Err), role.Err.Error(), now)
		return
	}
	// Never serve expired credentials, whatever the Source says: after a
	// laptop resumes, the wall clock may be past an expiry the refresher
	// has not yet noticed.
	if !now.Before(role.Credentials.Expires) {
		s.writeErrorDocument(w, codeExpired, "credentials for role "+role.Name+" expired at "+formatTime(role.Credentials.Expires)+"; a refresh is under way", now)
		return
	}
	d := s.document(role.Name, role.Credentials)
	s.audit.served(r, now, caller, role.Container, role.Name, d.keyTail)
	if rt.kind == routeExtendedCredentials {
		writeBytes(w, d.extended)
		return
	}
	writeBytes(w, d.legacy)
}

func (s *Server) writeErrorDocument(w http.ResponseWriter, code, msg string, now time.Time) {
	writeBytes(w, mustJSON(errorDocument{Code: code, Message: msg, LastUpdated: formatTime(now)}))
}

// errorCode returns err's AWS-style code when it has one.
func errorCode(err error) string {
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) && coded.ErrorCode() != "" {
		return coded.ErrorCode()
	}
	return codeUnavailable
}
