package doctor

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestDoctor_ClockSkew points the clock check at an STS whose Date header
// is ten minutes behind.
func TestDoctor_ClockSkew(t *testing.T) {
	for name, tc := range map[string]struct {
		offset time.Duration
		ok     bool
	}{
		"in sync":      {0, true},
		"4m behind":    {-4 * time.Minute, true},
		"10m behind":   {-10 * time.Minute, false},
		"10m in front": {10 * time.Minute, false},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Date", time.Now().Add(tc.offset).UTC().Format(http.TimeFormat))
				w.WriteHeader(http.StatusForbidden)
			}))
			defer srv.Close()
			d := newDoctor(&bytes.Buffer{})
			d.stsEndpoint = srv.URL
			r := d.checkClock(context.Background())
			if r.ok != tc.ok {
				t.Errorf("got ok %v (%s), want %v", r.ok, r.msg, tc.ok)
			}
			if !tc.ok && !strings.Contains(r.fix, "synchronise the clock") {
				t.Errorf("fix %q does not say to synchronise the clock", r.fix)
			}
		})
	}
}

func TestNoProxyMatches(t *testing.T) {
	tests := []struct {
		list, host string
		want       bool
	}{
		{"", "169.254.169.254", false},
		{"*", "169.254.169.254", true},
		{"localhost, 169.254.169.254", "169.254.169.254", true},
		{"169.254.0.0/16", "169.254.169.254", true},
		{"10.0.0.0/8", "169.254.169.254", false},
		{"169.254.169.254:80", "169.254.169.254", true},
		{".internal", "host.docker.internal", true},
		{"internal", "host.docker.internal", true},
		{"127.0.0.1", "127.0.0.2", false},
	}
	for _, tc := range tests {
		if got := noProxyMatches(tc.list, tc.host); got != tc.want {
			t.Errorf("noProxyMatches(%q, %q) = %v, want %v", tc.list, tc.host, got, tc.want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://user:pw@proxy:3128": "http://***@proxy:3128",
		"http://proxy:3128":         "http://proxy:3128",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
