package imds

import (
	"github.com/imdsd/imdsd/internal/testutil"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestServer_GoroutinesBackToBaselineAfterLoad: 64 clients, each from its
// own loopback address, hammer a hardened server (Run with the connection
// cap and rate limit) with token PUTs and credential GETs; once they hang
// up, the server's goroutines are back to the count before the load, and
// no request failed.
func TestServer_GoroutinesBackToBaselineAfterLoad(t *testing.T) {
	now := time.Now()
	src := staticSource(Role{Name: "demo", Credentials: testCreds(now)}, nil)
	s, _ := newTestServer(t, Options{Source: src, Now: time.Now, AllowedHosts: DefaultAllowedHosts,
		RateLimit: RateLimit{PerSecond: DefaultRatePerSecond, Burst: DefaultRateBurst}, MaxConnsPerClient: DefaultMaxConnsPerClient})
	addr, _ := runServer(t, s)
	base := "http://" + addr

	settle := func() int {
		runtime.GC()
		return runtime.NumGoroutine()
	}
	// One request first, so that lazily started runtime goroutines exist
	// before the baseline is taken.
	if resp, err := http.Get(base + PathInstanceID); err == nil {
		resp.Body.Close()
	}
	http.DefaultClient.CloseIdleConnections()
	// The server has let that connection go (its goroutine ends with it).
	testutil.WaitFor(t, 10*time.Second, func() bool { return openConns(s) == 0 }, "the first connection closed")
	baseline := settle()

	var wg sync.WaitGroup
	var failed sync.Map
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 2, byte(i+1))}}
			tr := &http.Transport{DialContext: d.DialContext}
			c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			defer tr.CloseIdleConnections()
			for range 50 {
				req, _ := http.NewRequest(http.MethodPut, base+PathToken, nil)
				req.Header.Set(HeaderTokenTTL, "60")
				resp, err := c.Do(req)
				if err != nil {
					failed.Store(i, err.Error())
					return
				}
				tok, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				req, _ = http.NewRequest(http.MethodGet, base+PathSecurityCredentials+"/demo", nil)
				req.Header.Set(HeaderToken, string(tok))
				resp, err = c.Do(req)
				if err != nil {
					failed.Store(i, err.Error())
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Store(i, resp.Status)
					return
				}
			}
		}()
	}
	wg.Wait()
	failed.Range(func(k, v any) bool {
		t.Errorf("client %v: %v", k, v)
		return true
	})
	var after int
	testutil.Until(5*time.Second, 10*time.Millisecond, func() bool { after = settle(); return after <= baseline })
	t.Logf("goroutines: %d before the load, %d after", baseline, after)
	if after > baseline {
		buf := make([]byte, 1<<16)
		t.Fatalf("goroutines after the load = %d, baseline %d\n%s", after, baseline, buf[:runtime.Stack(buf, true)])
	}
}
