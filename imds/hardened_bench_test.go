package imds

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"
)

// BenchmarkServer_Hardened measures the credential GET and the token PUT
// with every check of security.go and limits.go on, as cmd/imdsd runs
// them: Host allowlist, browser signals, per-client rate limit, and (in
// the audit case) one audit line to a discarding handler.
func BenchmarkServer_Hardened(b *testing.B) {
	for _, audit := range []bool{false, true} {
		name := "noaudit"
		if audit {
			name = "audit"
		}
		b.Run(name, func(b *testing.B) {
			now := time.Now()
			role := Role{Name: benchRole, Credentials: benchCredsFor(now)}
			opts := Options{
				Source:       SourceFunc(func(context.Context, Caller) (Role, error) { return role, nil }),
				Region:       "eu-west-1",
				Logger:       slog.New(slog.DiscardHandler),
				AllowedHosts: DefaultAllowedHosts,
				RateLimit:    RateLimit{PerSecond: 1e9, Burst: 1e9},
			}
			if audit {
				opts.Audit = slog.New(slog.NewTextHandler(io.Discard, nil))
			}
			s, err := New(opts)
			if err != nil {
				b.Fatal(err)
			}
			tok := s.tokens.issue(6 * time.Hour)
			b.Run("credentials", func(b *testing.B) {
				r := benchRequest(http.MethodGet, PathSecurityCredentials+"/"+benchRole, HeaderToken, tok)
				r.Host = "169.254.169.254"
				benchServe(b, s, r)
			})
			b.Run("token", func(b *testing.B) {
				r := benchRequest(http.MethodPut, PathToken, HeaderTokenTTL, "21600")
				r.Host = "169.254.169.254"
				benchServe(b, s, r)
			})
		})
	}
}

func TestNew_HopLimitRange(t *testing.T) {
	_, err := New(Options{Source: staticSource(Role{}, ErrNoRole), Region: "eu-west-1", HopLimit: 256})
	if err == nil {
		t.Fatal("HopLimit 256 accepted, want an error")
	}
	if HopLimitSupported {
		return
	}
	_, err = New(Options{Source: staticSource(Role{}, ErrNoRole), Region: "eu-west-1", HopLimit: 1})
	if !errors.Is(err, ErrHopLimitUnsupported) {
		t.Fatalf("HopLimit on this OS: %v, want ErrHopLimitUnsupported", err)
	}
}
