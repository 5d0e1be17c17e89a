package nat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// DefaultInterval is how often a Manager checks its rules and the bridges.
const DefaultInterval = 2 * time.Second

// ErrUnavailable is returned by [New] when the host cannot take nftables
// rules (an iptables-legacy-only kernel, or a kernel without nf_tables).
var ErrUnavailable = errors.New("nftables is not available")

// Options configure a [Manager].
type Options struct {
	Selector Selector
	Ports    Ports
	// Pods, when set, adds the DNAT of Kubernetes pods' interfaces to the
	// daemon on the node address (see [Pods]); New validates it.
	Pods *Pods
	// Interval is how often rules and bridges are checked; DefaultInterval
	// when zero.
	Interval time.Duration
	// OnBridges, when set, is called at every check with the current
	// bridges, before the rules for them are applied, so that the caller can
	// open (and close) its listeners on their gateway addresses, and retry
	// one that failed. It must be idempotent and quick.
	OnBridges func([]Bridge)
	Logger    *slog.Logger
	// Interfaces lists the host's interfaces; [Interfaces] when nil.
	Interfaces func() ([]Interface, error)
}

// ruleset is the firewall the rules live in (nftables on Linux; a fake in
// tests).
type ruleset interface {
	// Current returns the comments of the rules in the table, and false when
	// the table or its chain is missing.
	Current() ([]string, bool, error)
	// Apply replaces the table's content with rules, atomically.
	Apply(rules []Rule) error
	// Remove deletes the table; it is not an error if it is missing.
	Remove() error
	Close() error
}

// Manager keeps the DNAT rules in place while it runs.
type Manager struct {
	opts    Options
	log     *slog.Logger
	rs      ruleset
	bridges []Bridge
	applied bool // rules were applied once; a later mismatch is a repair
	inited  bool // Init succeeded
}

// New checks that the host can take the rules and returns a Manager. It
// changes nothing until Run.
func New(opts Options) (*Manager, error) {
	if opts.Pods != nil {
		if err := opts.Pods.Validate(); err != nil {
			return nil, err
		}
	}
	rs, err := newRuleset()
	if err != nil {
		return nil, err
	}
	return newManager(opts, rs), nil
}

func newManager(opts Options, rs ruleset) *Manager {
	if opts.Interval == 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Interfaces == nil {
		opts.Interfaces = Interfaces
	}
	return &Manager{opts: opts, log: opts.Logger.With("component", "nat"), rs: rs}
}

// Run applies the rules, keeps them in place until ctx ends, then removes
// them. A cancelled ctx is a normal stop and returns nil; an error applying
// the rules the first time is returned at once (after cleaning up).
func (m *Manager) Run(ctx context.Context) error {
	defer m.rs.Close()
	if !m.inited {
		if err := m.Init(); err != nil {
			return err
		}
	}
	t := time.NewTicker(m.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return m.remove()
		case <-t.C:
			if err := m.sync(); err != nil {
				m.log.Error("cannot put container DNAT rules in place; retrying", "err", err)
			}
		}
	}
}

// Init applies the rules once, so that a host that cannot take them fails
// at start rather than in the background. Run calls it unless it was
// called.
func (m *Manager) Init() error {
	if err := m.sync(); err != nil {
		_ = m.rs.Remove()
		return err
	}
	m.inited = true
	return nil
}

func (m *Manager) remove() error {
	if err := m.rs.Remove(); err != nil {
		return fmt.Errorf("remove container DNAT rules: %w", err)
	}
	m.log.Info("container DNAT rules removed", "table", TableName)
	return nil
}

// sync brings the bridges and the table up to date, once.
func (m *Manager) sync() error {
	ifcs, err := m.opts.Interfaces()
	if err != nil {
		return err
	}
	bridges := m.opts.Selector.Select(ifcs)
	changed := !slices.Equal(bridges, m.bridges) || !m.applied
	if m.opts.OnBridges != nil {
		m.opts.OnBridges(bridges)
	}
	if changed {
		if m.applied {
			m.log.Info("container bridges changed", "bridges", names(bridges))
		}
		m.bridges = bridges
	}
	want := Rules(bridges, m.opts.Ports, m.opts.Pods)
	have, ok, err := m.rs.Current()
	if err != nil {
		return fmt.Errorf("read table %s: %w", TableName, err)
	}
	if ok && slices.Equal(have, comments(want)) {
		return nil
	}
	if err := m.rs.Apply(want); err != nil {
		return fmt.Errorf("apply container DNAT rules: %w", err)
	}
	switch {
	case !m.applied:
		m.log.Info("container DNAT rules installed", "table", TableName, "bridges", names(bridges), "rules", len(want))
	case changed:
		m.log.Info("container DNAT rules updated", "table", TableName, "bridges", names(bridges), "rules", len(want))
	default:
		// Nothing of ours changed, so someone else removed or altered the
		// table: say so, since it means another tool fights over the rules.
		m.log.Warn("container DNAT rules were missing or altered; repaired", "table", TableName, "found", len(have), "rules", len(want))
	}
	m.applied = true
	return nil
}

func comments(rules []Rule) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.String()
	}
	return out
}

func names(bridges []Bridge) []string {
	out := make([]string, len(bridges))
	for i, b := range bridges {
		out[i] = b.Name
	}
	return out
}
