package metrics

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestMetrics_Exposition(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	m := New(Options{
		Now: func() time.Time { return now },
		Roles: func() []RoleSample {
			return []RoleSample{{Name: "dev", Expires: now.Add(90 * time.Second), Default: true}, {Name: "ops"},
				{Name: "ra", CertificateExpires: now.Add(-30 * time.Second)}}
		},
		Clients: func() int { return 3 },
		Scheduler: func() SchedulerSample {
			return SchedulerSample{InFlight: 2, Queued: 5, Throttles: 7, Rate: 2.5}
		},
	})
	m.ObserveRequest("credentials", 200, 2*time.Millisecond)
	m.ObserveRequest("credentials", 200, 3*time.Millisecond)
	m.ObserveRequest("token", 400, time.Millisecond)
	m.ObserveFetch("dev", "")
	m.ObserveFetch("ops", "AccessDenied")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`imdsd_requests_total{route="credentials",status="200"} 2`,
		`imdsd_requests_total{route="token",status="400"} 1`,
		`imdsd_request_duration_seconds_count{route="credentials",status="200"} 2`,
		`imdsd_sts_calls_total{role="dev"} 1`,
		`imdsd_sts_calls_total{role="ops"} 1`,
		`imdsd_sts_failures_total{code="AccessDenied",role="ops"} 1`,
		`imdsd_refreshes_total{role="dev"} 1`,
		`imdsd_credentials_expiry_seconds{role="dev"} 90`,
		`imdsd_credentials_available{role="ops"} 0`,
		`imdsd_default_role{role="dev"} 1`,
		`imdsd_clients 3`,
		`imdsd_certificate_expiry_seconds{role="ra"} -30`,
		`imdsd_sts_in_flight 2`,
		`imdsd_sts_queue_length 5`,
		`imdsd_sts_throttles_total 7`,
		`imdsd_sts_rate_limit 2.5`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(string(body), `imdsd_certificate_expiry_seconds{role="dev"}`) {
		t.Error("a role with no certificate has a certificate expiry")
	}
	m.ForgetRole("ops")
	if n := testCount(t, m, "imdsd_sts_failures_total"); n != 0 {
		t.Errorf("after ForgetRole: %d failure series, want 0", n)
	}
}

func testCount(t *testing.T, m *Metrics, name string) int {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}

func TestMetrics_ObserveRequestAllocs(t *testing.T) {
	m := New(Options{})
	m.ObserveRequest("credentials", 200, time.Millisecond)
	if n := testing.AllocsPerRun(100, func() { m.ObserveRequest("credentials", 200, time.Millisecond) }); n != 0 {
		t.Fatalf("ObserveRequest: %.0f allocs, want 0", n)
	}
}
