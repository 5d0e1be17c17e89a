package imds

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

// TestServer_RateLimitIsPerClient: a client past its burst gets 429 with
// Retry-After, another client is served as usual meanwhile, and the first
// gets its rate back as the clock moves.
func TestServer_RateLimitIsPerClient(t *testing.T) {
	s, clk := newTestServer(t, Options{
		Source:    staticSource(Role{}, ErrNoRole),
		RateLimit: RateLimit{PerSecond: 10, Burst: 20},
	})
	get := func(remote string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, PathInstanceID, nil)
		r.RemoteAddr = remote
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w
	}
	ok := 0
	for i := 0; i < 100; i++ {
		if get("192.0.2.1:1000").Code == 200 {
			ok++
		}
	}
	if ok != 20 {
		t.Fatalf("noisy client: %d of 100 served at one instant, want the burst, 20", ok)
	}
	w := get("192.0.2.1:1001")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("noisy client over its rate: status %d Retry-After %q, want 429 and 1", w.Code, w.Header().Get("Retry-After"))
	}
	for i := 0; i < 20; i++ {
		if c := get("192.0.2.2:2000").Code; c != 200 {
			t.Fatalf("quiet client request %d while the other is limited: status %d, want 200", i, c)
		}
	}
	clk.Advance(time.Second)
	ok = 0
	for i := 0; i < 100; i++ {
		if get("192.0.2.1:1000").Code == 200 {
			ok++
		}
	}
	if ok != 10 {
		t.Errorf("noisy client 1s later: %d served, want the rate, 10", ok)
	}
	if got := s.SecurityStats().RateLimited; got != 80+1+90 {
		t.Errorf("SecurityStats().RateLimited = %d, want 171", got)
	}
}

func TestRateLimiter_ForgetsIdleClients(t *testing.T) {
	clk := newFakeClock()
	l := newRateLimiter(RateLimit{PerSecond: 10, Burst: 10})
	for i := 0; i < 1000; i++ {
		var b [4]byte
		b[0], b[2], b[3] = 10, byte(i>>8), byte(i)
		if ok, _ := l.allow(clientKey{addr: netip.AddrFrom4(b)}, clk.Now()); !ok {
			t.Fatalf("first request of client %d refused", i)
		}
	}
	clk.Advance(2 * time.Minute)
	l.allow(clientKey{addr: netip.AddrFrom4([4]byte{10, 9, 9, 9})}, clk.Now())
	l.mu.Lock()
	n := len(l.buckets)
	l.mu.Unlock()
	if n != 1 {
		t.Fatalf("buckets after two idle minutes = %d, want 1", n)
	}
}
