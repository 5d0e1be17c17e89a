package nat

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
)

// newTestNetns creates a network namespace for the test (removed at the
// end) holding a bridge docker0 at 172.17.0.1/16, and returns its name and
// an nftables ruleset talking to it. It needs root and iproute2.
func newTestNetns(t *testing.T) (string, *nftRuleset) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test changes nftables in a network namespace of its own: run it as root (CI does)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("this test needs iproute2's ip: apt-get install iproute2")
	}
	ns := fmt.Sprintf("imdsd-nat-%d", os.Getpid())
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	ip("-n", ns, "link", "add", "docker0", "type", "bridge")
	ip("-n", ns, "addr", "add", "172.17.0.1/16", "dev", "docker0")
	ip("-n", ns, "link", "set", "docker0", "up")
	f, err := os.Open("/var/run/netns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	rs, err := newNftRuleset(func() (*nftables.Conn, error) { return nftables.New(nftables.WithNetNSFd(int(f.Fd()))) })
	if err != nil {
		t.Fatal(err)
	}
	return ns, rs
}

func nftList(t *testing.T, ns string) string {
	t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Fatal("this test reads the ruleset back with nft: apt-get install nftables")
	}
	out, _ := exec.Command("ip", "netns", "exec", ns, "nft", "list", "ruleset").CombinedOutput()
	return string(out)
}

func TestNftRuleset_ApplyRemove(t *testing.T) {
	ns, rs := newTestNetns(t)
	rules := Plan([]Bridge{
		{Name: "docker0", V4: pfx("172.17.0.1/16"), V6: pfx("fd00:dead::1/64")},
		{Name: "br-abc", V4: pfx("172.18.0.1/16")},
	}, Ports{IMDS: 9254, Endpoint: 9255})

	for i := range 2 { // twice: applying is idempotent
		if err := rs.Apply(rules); err != nil {
			t.Fatalf("apply #%d: %v", i+1, err)
		}
	}
	got, ok, err := rs.Current()
	if err != nil || !ok || !slices.Equal(got, comments(rules)) {
		t.Fatalf("Current: got %q, %v, %v; want %q", got, ok, err, comments(rules))
	}
	list := nftList(t, ns)
	for _, want := range []string{
		"table inet imdsd",
		`iifname "docker0" ip daddr 169.254.169.254 tcp dport 80 dnat ip to 172.17.0.1:9254`,
		`iifname "docker0" ip daddr 169.254.170.2 tcp dport 80 dnat ip to 172.17.0.1:9255`,
		`iifname "docker0" ip6 daddr fd00:ec2::254 tcp dport 80 dnat ip6 to [fd00:dead::1]:9254`,
		`iifname "br-abc" ip daddr 169.254.169.254 tcp dport 80 dnat ip to 172.18.0.1:9254`,
		`comment "imdsd: docker0 169.254.169.254:80 -> 172.17.0.1:9254"`,
		"type filter hook input priority filter; policy accept;",
		`iifname != "docker0" ip daddr 172.17.0.1 tcp dport 9254 drop`,
		`iifname != "docker0" ip6 daddr fd00:dead::1 tcp dport 9255 drop`,
		`iifname != "br-abc" ip daddr 172.18.0.1 tcp dport 9255 drop`,
	} {
		if !strings.Contains(list, want) {
			t.Errorf("nft list ruleset lacks %q:\n%s", want, list)
		}
	}
	if got, want := strings.Count(list, " dnat ")+strings.Count(list, " drop "), len(rules); got != want {
		t.Errorf("got %d dnat and drop rules, want %d:\n%s", got, want, list)
	}

	for i := range 2 { // twice: removing a missing table is fine
		if err := rs.Remove(); err != nil {
			t.Fatalf("remove #%d: %v", i+1, err)
		}
	}
	if _, ok, err := rs.Current(); ok || err != nil {
		t.Errorf("after Remove: present %v, err %v; want absent", ok, err)
	}
	if list := nftList(t, ns); strings.Contains(list, "imdsd") {
		t.Errorf("table left after Remove:\n%s", list)
	}
}

// TestManager_RepairsDeletedTable deletes the table with the nft command,
// as an administrator or a firewall reload would, and checks that the next
// check puts it back and says so.
func TestManager_RepairsDeletedTable(t *testing.T) {
	ns, rs := newTestNetns(t)
	var logs bytes.Buffer
	m := newManager(Options{
		Selector: Selector{Auto: true},
		Ports:    Ports{IMDS: 9254, Endpoint: 9255},
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
		Interfaces: func() ([]Interface, error) {
			return []Interface{{Name: "docker0", Bridge: true, Addrs: []netip.Prefix{pfx("172.17.0.1/16")}}}, nil
		},
	}, rs)
	t.Cleanup(func() { _ = rs.Remove() })
	if err := m.sync(); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "netns", "exec", ns, "nft", "delete", "table", "inet", "imdsd").CombinedOutput(); err != nil {
		t.Fatalf("nft delete table: %v\n%s", err, out)
	}
	if err := m.sync(); err != nil {
		t.Fatal(err)
	}
	if list := nftList(t, ns); !strings.Contains(list, "dnat ip to 172.17.0.1:9254") {
		t.Errorf("rules not back after the table was deleted:\n%s", list)
	}
	if !strings.Contains(logs.String(), "repaired") {
		t.Errorf("log does not say repaired:\n%s", logs.String())
	}
}

// TestNewNftRuleset_Unavailable: a host where nftables cannot be reached
// (an iptables-legacy-only kernel) gets an error that says what to install.
func TestNewNftRuleset_Unavailable(t *testing.T) {
	_, err := newNftRuleset(func() (*nftables.Conn, error) { return nil, errors.New("protocol not supported") })
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
	for _, want := range []string{"protocol not supported", "nf_tables", "apt-get install nftables", "containers: {enabled: false}"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %v", want, err)
		}
	}
}
