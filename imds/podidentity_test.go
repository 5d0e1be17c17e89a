package imds

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestContainerHandler_PodIdentity: in Pod Identity mode the header goes
// to the Source, which alone judges it; a missing one is 401 before the
// Source is asked; the Source's refusals map to 401 and 403; the token is
// in no answer and no log.
func TestContainerHandler_PodIdentity(t *testing.T) {
	const token = "eyJhbGciOiJSUzI1NiJ9.secret-projected-token"
	var seen string
	src := SourceFunc(func(_ context.Context, c Caller) (Role, error) {
		seen = c.Authorization
		switch c.Authorization {
		case token:
			return Role{Name: "app", Credentials: containerCreds()}, nil
		case "no-role":
			return Role{}, fmt.Errorf("%w: pod team/x has no role", ErrNoRole)
		case "elsewhere":
			return Role{}, fmt.Errorf("%w: the request comes from another address", ErrForbidden)
		}
		return Role{}, fmt.Errorf("%w: the token is expired", ErrUnauthorized)
	})
	var logs bytes.Buffer
	h, err := NewContainerHandler(ContainerOptions{Source: src, PodIdentity: true, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Now: func() time.Time { return containerNow }})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, auth string
		checks     []checkFunc
	}{
		{"valid", token, []checkFunc{hasStatus(http.StatusOK), isJSON}},
		{"missing", "", []checkFunc{hasStatus(http.StatusUnauthorized), hasCode(codeInvalidToken)}},
		{"rejected", "expired", []checkFunc{hasStatus(http.StatusUnauthorized), hasCode(codeInvalidToken)}},
		{"no role", "no-role", []checkFunc{hasStatus(http.StatusForbidden), hasCode(codeAccessDenied)}},
		{"address mismatch", "elsewhere", []checkFunc{hasStatus(http.StatusForbidden), hasCode(codeAccessDenied)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen = "unset"
			req := httptest.NewRequest(http.MethodGet, PathContainerCredentials, nil)
			if tc.auth != "" {
				req.Header.Set(headerAuthorization, tc.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			for _, c := range tc.checks {
				if err := c(rec); err != nil {
					t.Error(err)
				}
			}
			if tc.auth == "" && seen != "unset" {
				t.Error("the Source was asked without a token")
			}
			if tc.auth != "" && seen != tc.auth {
				t.Errorf("the Source saw %q, want the header", seen)
			}
			if tc.auth == token && strings.Contains(rec.Body.String(), token) {
				t.Error("the token is in the answer")
			}
		})
	}
	if strings.Contains(logs.String(), token) {
		t.Errorf("the token is in the logs: %s", logs.String())
	}
	if _, err := NewContainerHandler(ContainerOptions{Source: src, PodIdentity: true, Token: "x"}); err == nil {
		t.Error("Token with PodIdentity: want an error")
	}
}
