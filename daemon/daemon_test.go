package daemon

import (
	"context"
	"github.com/imdsd/imdsd/access"
	"github.com/imdsd/imdsd/config"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/imdsd/imdsd/control"
	"github.com/imdsd/imdsd/imds"
	"github.com/imdsd/imdsd/internal/motoserver"
	"github.com/imdsd/imdsd/roles"
)

// fakeEntry is a role whose refresher holds fixed credentials.
func fakeEntry(t *testing.T, name string) *roleEntry {
	t.Helper()
	r, err := roles.NewRefresher(roles.RefresherOptions{
		Name: name,
		Fetcher: roles.FetcherFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "ASIA" + strings.ToUpper(name), SecretAccessKey: "s", CanExpire: true, Expires: time.Now().Add(time.Hour)}, nil
		}),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &roleEntry{role: roles.Resolved{Name: name, ARN: "arn:aws:iam::123456789012:role/" + name}, refresher: r}
	ctx, cancel := context.WithCancel(context.Background())
	e.start(ctx)
	t.Cleanup(func() { cancel(); e.stop() })
	return e
}

// fakeOps is an ops over fake roles, the first the configured default.
func fakeOps(t *testing.T, stateFile string, names ...string) *Daemon {
	t.Helper()
	o := &Daemon{log: slog.New(slog.NewTextHandler(io.Discard, nil)), now: time.Now, clients: map[clientID]*clientSeen{}}
	cfg := config.Config{StateFile: stateFile}
	o.cfg.Store(&cfg)
	set := &roleSet{byName: map[string]*roleEntry{}, def: names[0]}
	for _, n := range names {
		set.byName[n] = fakeEntry(t, n)
		set.order = append(set.order, n)
	}
	o.set.Store(set)
	policy, err := newPolicy(cfg, set.order, access.SystemUsers{}, o.log)
	if err != nil {
		t.Fatal(err)
	}
	o.policy.Store(policy)
	o.sources = newCallerSources()
	o.loadState(set)
	return o
}

func servedRole(t *testing.T, o *Daemon) string {
	t.Helper()
	r, err := o.Credentials(context.Background(), imds.Caller{Remote: netip.MustParseAddrPort("127.0.0.1:5000")})
	if err != nil {
		t.Fatalf("Credentials: %v", err)
	}
	return r.Name
}

func TestOps_UseSwitchesAndPersists(t *testing.T) {
	state := filepath.Join(t.TempDir(), "sub", "state.json")
	o := fakeOps(t, state, "dev", "admin")
	if got := servedRole(t, o); got != "dev" {
		t.Fatalf("served %q before use, want dev", got)
	}
	reply, err := o.useRole("admin")
	if err != nil || reply != (control.UseReply{Previous: "dev", Role: "admin"}) {
		t.Fatalf("useRole: %+v, %v", reply, err)
	}
	if got := servedRole(t, o); got != "admin" {
		t.Errorf("served %q after use, want admin", got)
	}
	if _, err := o.useRole("root"); err == nil || !strings.Contains(err.Error(), `role "root" is not configured (configured: [dev admin])`) {
		t.Errorf("useRole(root): %v", err)
	}
	// A restart: a new daemon over the same state file serves admin.
	if got := servedRole(t, fakeOps(t, state, "dev", "admin")); got != "admin" {
		t.Errorf("after a restart served %q, want admin (persisted)", got)
	}
	// A config without admin any more falls back to its default.
	if got := servedRole(t, fakeOps(t, state, "dev")); got != "dev" {
		t.Errorf("with admin removed served %q, want dev", got)
	}
	st := o.status()
	if st.DefaultRole != "admin" || len(st.Roles) != 2 || !st.Roles[1].Default || st.Roles[0].Default {
		t.Errorf("status: default %q roles %+v", st.DefaultRole, st.Roles)
	}
	if len(st.Clients) != 1 || st.Clients[0].Address != "127.0.0.1" || st.Clients[0].Requests != 2 || st.Clients[0].Role != "admin" {
		t.Errorf("clients %+v", st.Clients)
	}
}

// TestOps_WatchMFA: an hour before an MFA session ends the daemon logs it,
// once.
func TestOps_WatchMFA(t *testing.T) {
	moto := motoserver.Start(t)
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEOPS000002")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "x")
	m, err := roles.NewMFASession(context.Background(), roles.MFAOptions{Serial: "arn:aws:iam::123456789012:mfa/u", STSEndpoint: moto.URL})
	if err != nil {
		t.Fatal(err)
	}
	exp, err := m.Start(context.Background(), "123456")
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	o := fakeOps(t, filepath.Join(t.TempDir(), "s.json"), "dev")
	o.log = slog.New(slog.NewTextHandler(&logs, nil))
	o.set.Load().byName["dev"].mfa = m
	for _, at := range []time.Duration{-2 * time.Hour, -50 * time.Minute, -40 * time.Minute} {
		o.now = func() time.Time { return exp.Add(at) }
		o.watchMFA()
	}
	if n := strings.Count(logs.String(), "MFA session ends soon"); n != 1 {
		t.Errorf("warned %d times, want once:\n%s", n, logs.String())
	}
	if st := roleStatus(o.set.Load().byName["dev"]); st.MFA == nil || !st.MFA.Expires.Equal(exp.UTC()) {
		t.Errorf("status MFA %+v, want expiry %s", st.MFA, exp)
	}
}
