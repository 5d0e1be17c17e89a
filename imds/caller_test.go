package imds

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestServer_IdentifyCaller: the hook's uid reaches the Source; a Source
// that cannot identify the caller gets it refused with 403.
func TestServer_IdentifyCaller(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	var seen []Caller
	src := fakeSource{fn: func(_ context.Context, c Caller) (Role, error) {
		mu.Lock()
		seen = append(seen, c)
		mu.Unlock()
		switch {
		case !c.HasUID:
			return Role{}, ErrForbidden
		case c.UID == 1000:
			return Role{Name: "dev", Credentials: testCreds(now)}, nil
		}
		return Role{}, ErrNoRole
	}}
	uid, has := 1000, true
	s, _ := newTestServer(t, Options{Source: src, Now: time.Now, IdentifyCaller: func(c Caller) Caller {
		c.UID, c.HasUID = uid, has
		return c
	}})
	if w := do(s, http.MethodGet, PathSecurityCredentials+"/dev"); w.Code != 200 || !strings.Contains(body(w), `"Success"`) {
		t.Fatalf("uid 1000: status %d, want 200 and a document", w.Code)
	}
	uid = 1001
	if w := do(s, http.MethodGet, PathSecurityCredentials+"/"); w.Code != 404 {
		t.Fatalf("uid 1001 without a rule: status %d, want 404", w.Code)
	}
	has = false
	for _, p := range []string{PathSecurityCredentials + "/", PathSecurityCredentials + "/dev"} {
		if w := do(s, http.MethodGet, p); w.Code != 403 {
			t.Fatalf("unknown uid, GET %s: status %d, want 403", p, w.Code)
		}
	}
	// The token and static paths do not ask the Source.
	mu.Lock()
	before := len(seen)
	mu.Unlock()
	do(s, http.MethodPut, PathToken, HeaderTokenTTL, "60")
	do(s, http.MethodGet, PathInstanceID)
	mu.Lock()
	after := len(seen)
	mu.Unlock()
	if after != before {
		t.Errorf("token PUT and instance-id asked the Source %d times, want 0", after-before)
	}
}
