package nat

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// podNode is a "node" network namespace with a CNI-named veth to a "pod"
// namespace and a non-matching veth to an "outsider" namespace:
//
//	pod (10.244.0.5, fd00:244::5) --eth0|cali1234-- node (eth0 192.0.2.10, 2001:db8:1::10)
//	outsider (10.245.0.5)         --eth0|tap9------ node
type podNode struct {
	node, pod, outsider string // netns names
	rs                  *nftRuleset
	nodeV4, nodeV6      netip.Addr
}

func newPodNode(t *testing.T) *podNode {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test changes nftables in network namespaces of its own: run it as root (CI does)")
	}
	for _, tool := range []string{"ip", "nft", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("this test needs %s: apt-get install iproute2 nftables curl", tool)
		}
	}
	id := os.Getpid()
	n := &podNode{
		node:     fmt.Sprintf("imdsd-node-%d", id),
		pod:      fmt.Sprintf("imdsd-pod-%d", id),
		outsider: fmt.Sprintf("imdsd-out-%d", id),
		nodeV4:   netip.MustParseAddr("192.0.2.10"),
		nodeV6:   netip.MustParseAddr("2001:db8:1::10"),
	}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, ns := range []string{n.node, n.pod, n.outsider} {
		ip("netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		ip("-n", ns, "link", "set", "lo", "up")
	}
	// The node's uplink: a veth whose peer stays in the node (no dummy
	// module is needed).
	ip("-n", n.node, "link", "add", "eth0", "type", "veth", "peer", "name", "uplink")
	ip("-n", n.node, "link", "set", "uplink", "up")
	ip("-n", n.node, "addr", "add", "192.0.2.10/24", "dev", "eth0")
	ip("-n", n.node, "addr", "add", "2001:db8:1::10/64", "dev", "eth0", "nodad")
	ip("-n", n.node, "link", "set", "eth0", "up")

	link := func(hostIf, ns, host4, pod4, host6, pod6 string) {
		ip("-n", n.node, "link", "add", hostIf, "type", "veth", "peer", "name", "eth0", "netns", ns)
		ip("-n", n.node, "addr", "add", host4+"/24", "dev", hostIf)
		ip("-n", ns, "addr", "add", pod4+"/24", "dev", "eth0")
		if host6 != "" {
			ip("-n", n.node, "addr", "add", host6+"/64", "dev", hostIf, "nodad")
			ip("-n", ns, "addr", "add", pod6+"/64", "dev", "eth0", "nodad")
		}
		ip("-n", n.node, "link", "set", hostIf, "up")
		ip("-n", ns, "link", "set", "eth0", "up")
		ip("-n", ns, "route", "add", "default", "via", host4)
		if host6 != "" {
			ip("-n", ns, "-6", "route", "add", "default", "via", host6)
		}
	}
	link("cali1234", n.pod, "10.244.0.1", "10.244.0.5", "fd00:244::1", "fd00:244::5")
	link("tap9", n.outsider, "10.245.0.1", "10.245.0.5", "", "")

	f, err := os.Open("/var/run/netns/" + n.node)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	n.rs, err = newNftRuleset(func() (*nftables.Conn, error) { return nftables.New(nftables.WithNetNSFd(int(f.Fd()))) })
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// listen opens a TCP listener inside the node namespace (a socket stays in
// the namespace it was created in) and serves, on it, the peer and local
// addresses each request was seen with.
func (n *podNode) listen(t *testing.T, addr netip.AddrPort) {
	t.Helper()
	var ln net.Listener
	err := inNetns(n.node, func() error {
		var err error
		ln, err = net.Listen("tcp", addr.String())
		return err
	})
	if err != nil {
		t.Fatalf("listen on %s in %s: %v", addr, n.node, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, _ := netip.ParseAddrPort(r.RemoteAddr)
		local := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		fmt.Fprintf(w, "peer=%s local=%s path=%s", peer.Addr(), local, r.URL.Path)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
}

// inNetns runs f on an OS thread switched into network namespace ns.
func inNetns(ns string, f func() error) error {
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := os.Open("/var/run/netns/" + ns)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns %s: %w", ns, err)
	}
	ferr := f()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err == nil {
		runtime.UnlockOSThread()
	} // else the thread stays locked and exits with the goroutine
	return ferr
}

// curl runs a real HTTP client inside ns and returns its body, or an error
// when no answer came (--max-time bounds a dropped connection).
func curl(ns, url string, maxTime string) (string, error) {
	out, err := exec.Command("ip", "netns", "exec", ns, "curl", "-sS", "-g", "--max-time", maxTime, url).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("curl %s in %s: %v: %s", url, ns, err, out)
	}
	return string(out), nil
}

func (n *podNode) pods() *Pods {
	return &Pods{Interfaces: []string{"cali+", "cni0"}, V4: n.nodeV4, V6: n.nodeV6, IMDS: 9254, PodIdentity: 9256}
}

// TestPodDNAT_RealRequests: a pod on a CNI-named interface (cali1234)
// reaches the daemon's listener on the node address through
// 169.254.169.254, [fd00:ec2::254] and the Pod Identity address, with its
// own source address kept (that is how the daemon knows the pod); a host
// on an interface no pattern matches (tap9) reaches neither the metadata
// address nor, once the guard is in, the listener itself; and after the
// Manager stops, no imdsd table or chain is left (kube2iam's stale rules).
func TestPodDNAT_RealRequests(t *testing.T) {
	n := newPodNode(t)
	for _, a := range []string{"192.0.2.10:9254", "192.0.2.10:9256", "[2001:db8:1::10]:9254", "[2001:db8:1::10]:9256"} {
		n.listen(t, netip.MustParseAddrPort(a))
	}
	// Without the rules, the outsider reaches the node listener directly:
	// the guard below is what stops it, not the topology.
	if _, err := curl(n.outsider, "http://192.0.2.10:9254/", "5"); err != nil {
		t.Fatalf("before the rules: %v", err)
	}

	m := newManager(Options{
		Pods:       n.pods(),
		Logger:     slog.New(slog.DiscardHandler),
		Interfaces: func() ([]Interface, error) { return nil, nil },
	}, n.rs)
	if err := m.Init(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	for _, tc := range []struct {
		url, want string
	}{
		{"http://169.254.169.254/latest/meta-data/iam/security-credentials/", "peer=10.244.0.5 local=192.0.2.10:9254 path=/latest/meta-data/iam/security-credentials/"},
		{"http://169.254.170.23/v1/credentials", "peer=10.244.0.5 local=192.0.2.10:9256 path=/v1/credentials"},
		{"http://[fd00:ec2::254]/latest/api/token", "peer=fd00:244::5 local=[2001:db8:1::10]:9254 path=/latest/api/token"},
		{"http://[fd00:ec2::23]/v1/credentials", "peer=fd00:244::5 local=[2001:db8:1::10]:9256 path=/v1/credentials"},
	} {
		got, err := curl(n.pod, tc.url, "5")
		if err != nil {
			t.Errorf("pod: %v\n%s", err, nftList(t, n.node))
			continue
		}
		if got != tc.want {
			t.Errorf("pod GET %s: got %q, want %q", tc.url, got, tc.want)
		}
	}
	for _, url := range []string{"http://169.254.169.254/latest/meta-data/", "http://192.0.2.10:9254/", "http://192.0.2.10:9256/v1/credentials"} {
		if got, err := curl(n.outsider, url, "1"); err == nil {
			t.Errorf("outsider on tap9 reached %s: %q", url, got)
		}
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	done <- nil // for the cleanup
	if list := nftList(t, n.node); strings.Contains(list, "imdsd") || strings.Contains(list, "chain") {
		t.Errorf("after stop, a table or chain is left:\n%s", list)
	}
	if _, err := curl(n.pod, "http://192.0.2.10:9254/", "5"); err != nil {
		t.Errorf("after stop the listener should be reachable without rules: %v", err)
	}
}

// TestScript_LoadsAsApplied: the print-only mode's script, loaded with
// `nft -f`, gives the very table Apply installs: same rules, same comments
// (so a Manager that starts later sees it as its own), same listing.
func TestScript_LoadsAsApplied(t *testing.T) {
	n := newPodNode(t)
	rules := Rules([]Bridge{{Name: "docker0", V4: pfx("172.17.0.1/16")}}, Ports{IMDS: 9254, Endpoint: 9255}, n.pods())
	if err := n.rs.Apply(rules); err != nil {
		t.Fatal(err)
	}
	applied := nftTable(t, n.node)
	if err := n.rs.Remove(); err != nil {
		t.Fatal(err)
	}

	script, err := Script(rules)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // twice: the script replaces its own table
		cmd := exec.Command("ip", "netns", "exec", n.node, "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nft -f (load #%d): %v\n%s\nscript:\n%s", i+1, err, out, script)
		}
	}
	got, ok, err := n.rs.Current()
	if err != nil || !ok || !slices.Equal(got, comments(rules)) {
		t.Fatalf("Current after the script: %q, %v, %v; want %q", got, ok, err, comments(rules))
	}
	if loaded := nftTable(t, n.node); loaded != applied {
		t.Errorf("the script's table differs from Apply's:\nscript:\n%s\napply:\n%s", loaded, applied)
	}

	cmd := exec.Command("ip", "netns", "exec", n.node, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(RemoveScript)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f RemoveScript: %v\n%s", err, out)
	}
	if list := nftList(t, n.node); strings.Contains(list, "imdsd") {
		t.Errorf("table left after RemoveScript:\n%s", list)
	}
}

func nftTable(t *testing.T, ns string) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", "inet", TableName).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list table: %v\n%s", err, out)
	}
	return string(out)
}
