package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imdsd/imdsd/config"
)

// answerWait bounds what must come at once: a refused reload, a status
// while a reload reads its file.
const answerWait = 5 * time.Second

// reloadConfig is a daemon's config that resolves with no network: a
// role_arn from the environment's static source credentials, an STS
// endpoint never called (the daemon is not run).
func reloadConfig(t *testing.T) config.Config {
	t.Helper()
	c := config.Default()
	c.Role.RoleARN = "arn:aws:iam::123456789012:role/dev"
	c.Role.Region = "us-east-1"
	c.Role.STSEndpoint = "http://127.0.0.1:1"
	c.StateFile = filepath.Join(t.TempDir(), "state.json")
	c.ControlSocket = config.ControlOff
	return c
}

// newReloadDaemon is a daemon over start that reads next on each reload.
func newReloadDaemon(t *testing.T, start config.Config, next func() (config.Config, error)) *Daemon {
	t.Helper()
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLERELOAD001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "reload-source-secret")
	o, err := New(context.Background(), Options{Config: start, Logger: slog.New(slog.NewTextHandler(testLog{t}, nil)), Reload: next})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// testLog sends the daemon's log to the test's.
type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// within runs f and fails the test if it has not returned within
// answerWait.
func within[T any](t *testing.T, what string, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	timer := time.NewTimer(answerWait)
	defer timer.Stop()
	select {
	case v := <-done:
		return v
	case <-timer.C:
		t.Fatalf("%s did not return within %s", what, answerWait)
		panic("unreachable")
	}
}

// TestReload_RefusesRestartKeys (issue 15 item 6): a reload that changes a
// key only a restart applies fails, naming exactly those keys, and
// changes nothing: not the config, not the roles, not the policy, even
// where the file also changes keys a reload applies. Status keeps the
// keys as a pending restart until a reload succeeds. Before, the reload
// logged a warning and said "reloaded".
func TestReload_RefusesRestartKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(c *config.Config)
		keys []string
	}{
		{"imdsv2", func(c *config.Config) { c.IMDSv2 = config.IMDSv2Required }, []string{"imdsv2"}},
		{"imdsv2 and rate_limit", func(c *config.Config) { c.IMDSv2 = config.IMDSv2Required; c.Security.RateLimit = 7 }, []string{"imdsv2", "rate_limit"}},
		{"listen", func(c *config.Config) { c.Listen = []string{"127.0.0.1:1"} }, []string{"listen"}},
		{"the flat role's region, with a session name a reload would apply", func(c *config.Config) {
			c.Role.Region = "eu-west-1"
			c.Role.SessionName = "next"
		}, []string{"region"}},
		{"hardening and the container endpoint", func(c *config.Config) {
			c.Security.HopLimit = 1
			c.ContainerEndpoint.Listen = []string{"127.0.0.1:2"}
		}, []string{"hop_limit", "container_endpoint"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := reloadConfig(t)
			next := start
			tc.edit(&next)
			o := newReloadDaemon(t, start, func() (config.Config, error) { return next, nil })
			cfg, set, policy := o.cfg.Load(), o.set.Load(), o.policy.Load()

			_, err := o.applyReload(context.Background())
			want := "these keys take effect only at a restart: " + strings.Join(tc.keys, ", ") + "; run 'imdsd restart' (nothing was changed)"
			if err == nil || err.Error() != want {
				t.Fatalf("reload: got %v, want %q", err, want)
			}
			if !errors.Is(err, errNeedsRestart) {
				t.Errorf("reload: %v is not errNeedsRestart", err)
			}
			if o.cfg.Load() != cfg || o.set.Load() != set || o.policy.Load() != policy {
				t.Errorf("a refused reload changed the config, roles or policy")
			}
			st := o.status()
			if !slices.Equal(st.PendingRestart, tc.keys) || st.ReloadError != want {
				t.Errorf("status: pending restart %v, reload error %q; want %v and %q", st.PendingRestart, st.ReloadError, tc.keys, want)
			}

			// The file as running again, with a change a reload applies:
			// accepted, and nothing is pending any more.
			next = start
			next.Role.SessionName = "applied"
			reply, err := o.applyReload(context.Background())
			if err != nil || !slices.Equal(reply.Changed, []string{"dev"}) {
				t.Fatalf("reload of a config with no restart key changed: %+v, %v; want dev changed", reply, err)
			}
			if st := o.status(); st.PendingRestart != nil || st.ReloadError != "" {
				t.Errorf("after a reload that succeeded: pending restart %v, reload error %q; want none", st.PendingRestart, st.ReloadError)
			}
		})
	}
}

// TestReload_AppliesClients: the client rules are rebuilt by a reload:
// the policy is a new one and the config is the file's.
func TestReload_AppliesClients(t *testing.T) {
	start := reloadConfig(t)
	next := start
	next.Clients = []config.ClientRule{{CIDR: netip.MustParsePrefix("10.0.0.0/8"), Role: "none"}}
	o := newReloadDaemon(t, start, func() (config.Config, error) { return next, nil })
	policy := o.policy.Load()
	if _, err := o.applyReload(context.Background()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if o.policy.Load() == policy || len(o.cfg.Load().Clients) != 1 {
		t.Errorf("the clients rules were not applied: policy replaced %v, clients %+v", o.policy.Load() != policy, o.cfg.Load().Clients)
	}
}

// TestReload_ReadsWithoutTheLock (issue 15 item 8): while a reload reads
// its file, however long that takes, status and use still answer; before,
// the read held the daemon's lock and status timed out.
func TestReload_ReadsWithoutTheLock(t *testing.T) {
	start := reloadConfig(t)
	reading, release := make(chan struct{}), make(chan struct{})
	o := newReloadDaemon(t, start, func() (config.Config, error) {
		close(reading)
		<-release
		return start, nil
	})
	done := make(chan error, 1)
	go func() { _, err := o.applyReload(context.Background()); done <- err }()
	<-reading
	released := false
	t.Cleanup(func() {
		if !released {
			close(release) // let the reload end, even when the test failed
		}
	})
	st := within(t, "status during a reload's read", o.status)
	if st.DefaultRole != "dev" {
		t.Errorf("status during a reload's read: default role %q, want dev", st.DefaultRole)
	}
	if err := within(t, "use during a reload's read", func() error { _, err := o.useRole("dev"); return err }); err != nil {
		t.Errorf("use during a reload's read: %v", err)
	}
	close(release)
	released = true
	if err := within(t, "the reload", func() error { return <-done }); err != nil {
		t.Errorf("reload: %v", err)
	}
}
