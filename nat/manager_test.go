package nat

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// fakeRuleset is a ruleset in memory.
type fakeRuleset struct {
	table    []string
	present  bool
	applies  int
	removed  bool
	applyErr error
}

var _ ruleset = (*fakeRuleset)(nil)

func (f *fakeRuleset) Current() ([]string, bool, error) { return f.table, f.present, nil }
func (f *fakeRuleset) Apply(rules []Rule) error {
	if f.applyErr != nil {
		return f.applyErr
	}
	f.applies++
	f.table, f.present = comments(rules), true
	return nil
}
func (f *fakeRuleset) Remove() error { f.table, f.present, f.removed = nil, false, true; return nil }
func (f *fakeRuleset) Close() error  { return nil }

type managerFixture struct {
	m      *Manager
	rs     *fakeRuleset
	ifaces []Interface
	seen   [][]Bridge
	logs   *bytes.Buffer
}

func newFixture(t testing.TB) *managerFixture {
	t.Helper()
	f := &managerFixture{rs: &fakeRuleset{}, logs: &bytes.Buffer{}}
	f.ifaces = []Interface{{Name: "docker0", Bridge: true, Addrs: []netip.Prefix{pfx("172.17.0.1/16")}}}
	f.m = newManager(Options{
		Selector:   Selector{Auto: true},
		Ports:      Ports{IMDS: 9254, Endpoint: 9255},
		Logger:     slog.New(slog.NewTextHandler(f.logs, nil)),
		Interfaces: func() ([]Interface, error) { return f.ifaces, nil },
		OnBridges:  func(b []Bridge) { f.seen = append(f.seen, b) },
	}, f.rs)
	return f
}

func TestManager_Sync(t *testing.T) {
	f := newFixture(t)
	mustSync := func() {
		t.Helper()
		if err := f.m.sync(); err != nil {
			t.Fatalf("sync: %v", err)
		}
	}
	mustSync()
	if f.rs.applies != 1 || len(f.rs.table) != 4 || !strings.Contains(f.logs.String(), "installed") {
		t.Fatalf("first sync: got %d applies, table %q, logs %s; want 1 apply of 2 DNAT and 2 guard rules, logged", f.rs.applies, f.rs.table, f.logs)
	}
	if len(f.seen) != 1 || f.seen[0][0].Name != "docker0" {
		t.Errorf("OnBridges: got %v, want one call with docker0", f.seen)
	}

	t.Run("idempotent", func(t *testing.T) {
		mustSync()
		if f.rs.applies != 1 || len(f.seen) != 2 {
			t.Errorf("got %d applies and %d OnBridges calls, want 1 and 2 (called at every check)", f.rs.applies, len(f.seen))
		}
	})
	t.Run("table deleted from outside is repaired and logged", func(t *testing.T) {
		f.rs.table, f.rs.present = nil, false
		mustSync()
		if f.rs.applies != 2 || !f.rs.present {
			t.Errorf("got %d applies, present %v; want 2, true", f.rs.applies, f.rs.present)
		}
		if !strings.Contains(f.logs.String(), "repaired") {
			t.Errorf("log does not say repaired:\n%s", f.logs)
		}
	})
	t.Run("rule altered from outside is repaired", func(t *testing.T) {
		f.rs.table = f.rs.table[:1]
		mustSync()
		if f.rs.applies != 3 || len(f.rs.table) != 4 {
			t.Errorf("got %d applies, %d rules; want 3, 4", f.rs.applies, len(f.rs.table))
		}
	})
	t.Run("new bridge is covered", func(t *testing.T) {
		f.ifaces = append(f.ifaces, Interface{Name: "br-1", Bridge: true, Addrs: []netip.Prefix{pfx("172.18.0.1/16")}})
		mustSync()
		if last := f.seen[len(f.seen)-1]; len(f.rs.table) != 8 || len(last) != 2 {
			t.Errorf("got %d rules and OnBridges %v; want 8 rules and a call with 2 bridges", len(f.rs.table), last)
		}
		if !strings.Contains(f.logs.String(), "updated") {
			t.Errorf("log does not say updated:\n%s", f.logs)
		}
	})
}

func TestManager_RunRemovesOnStop(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.m.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if f.rs.applies != 1 || !f.rs.removed || f.rs.present {
		t.Errorf("got %d applies, removed %v, present %v; want 1, true, false", f.rs.applies, f.rs.removed, f.rs.present)
	}
}

func TestManager_RunFirstApplyFails(t *testing.T) {
	f := newFixture(t)
	boom := errors.New("boom")
	f.rs.applyErr = boom
	if err := f.m.Run(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("got %v, want %v", err, boom)
	}
	if !f.rs.removed {
		t.Error("table not cleaned up after a failed first apply")
	}
}

func TestManager_NoBridges(t *testing.T) {
	f := newFixture(t)
	f.ifaces = nil
	if err := f.m.sync(); err != nil {
		t.Fatal(err)
	}
	if !f.rs.present || len(f.rs.table) != 0 || !slices.Equal(names(f.seen[0]), nil) {
		t.Errorf("got present %v, table %q; want an empty table", f.rs.present, f.rs.table)
	}
}
