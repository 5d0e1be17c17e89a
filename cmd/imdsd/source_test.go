package main

import (
	"bytes"
	"context"
	"errors"
	"github.com/imdsd/imdsd/config"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/imdsd/imdsd/containers"
	"github.com/imdsd/imdsd/imds"
)

// fakeFinder is a containerFinder over a fixed table.
type fakeFinder struct {
	fn func(netip.Addr) (containers.Container, error)
}

var _ containerFinder = fakeFinder{}

func (f fakeFinder) Lookup(_ context.Context, a netip.Addr) (containers.Container, error) {
	return f.fn(a)
}

func finderOf(byIP map[string]containers.Container) fakeFinder {
	return fakeFinder{fn: func(a netip.Addr) (containers.Container, error) {
		if c, ok := byIP[a.String()]; ok {
			return c, nil
		}
		return containers.Container{}, containers.ErrUnknown
	}}
}

func labelled(id, role string) containers.Container {
	c := containers.Container{ID: id, Name: "ctr-" + id}
	if role != "" {
		c.Labels = map[string]string{config.ContainerRoleLabel: role}
	}
	return c
}

func caller(remote, local string) imds.Caller {
	return imds.Caller{Remote: netip.MustParseAddrPort(remote), Local: netip.MustParseAddrPort(local)}
}

func TestClientRouter_Route(t *testing.T) {
	bridge := netip.MustParseAddr("172.17.0.1")
	finder := finderOf(map[string]containers.Container{
		"172.17.0.2": labelled("a", "role-a"),
		"172.17.0.3": labelled("b", "role-b"),
		"172.17.0.4": labelled("plain", ""),
		"172.17.0.5": labelled("bogus", "bogus"),
		"172.17.0.6": labelled("none", "none"),
		"172.17.0.7": labelled("front", "frontend"),
	})
	down := fakeFinder{fn: func(netip.Addr) (containers.Container, error) {
		return containers.Container{}, containers.ErrUnreachable
	}}
	has := func(n string) bool { return n == "host" || n == "role-a" || n == "role-b" || n == "batch" }
	rules := []config.ClientRule{
		{CIDR: netip.MustParsePrefix("10.1.0.0/16"), Role: "batch"},
		{ContainerLabel: "frontend", Role: "role-a"},
		{CIDR: netip.MustParsePrefix("172.17.0.8/32"), Role: "none"},
	}
	const onBridge = ":9254"
	tests := []struct {
		name   string
		finder containerFinder
		c      imds.Caller
		want   string
		err    error // errors.Is; nil with want
		notID  bool  // an identification error (not ErrNoRole)
	}{
		{name: "loopback gets the host role", finder: finder, c: caller("127.0.0.1:40000", "127.0.0.1:9254"), want: "host"},
		{name: "ipv6 loopback", finder: finder, c: caller("[::1]:40000", "[::1]:9254"), want: "host"},
		{name: "host on a local address", finder: finder, c: caller("169.254.169.254:40000", "169.254.169.254:80"), want: "host"},
		{name: "container labelled role-a", finder: finder, c: caller("172.17.0.2:40000", "172.17.0.1"+onBridge), want: "role-a"},
		{name: "container labelled role-b", finder: finder, c: caller("172.17.0.3:40000", "172.17.0.1"+onBridge), want: "role-b"},
		{name: "unlabelled container gets none", finder: finder, c: caller("172.17.0.4:40000", "172.17.0.1"+onBridge), err: imds.ErrNoRole},
		{name: "unknown label gets none", finder: finder, c: caller("172.17.0.5:40000", "172.17.0.1"+onBridge), err: imds.ErrNoRole},
		{name: "label none gets none", finder: finder, c: caller("172.17.0.6:40000", "172.17.0.1"+onBridge), err: imds.ErrNoRole},
		{name: "container_label rule", finder: finder, c: caller("172.17.0.7:40000", "172.17.0.1"+onBridge), want: "role-a"},
		{name: "cidr rule none beats the label", finder: finderOf(map[string]containers.Container{"172.17.0.8": labelled("x", "role-a")}), c: caller("172.17.0.8:40000", "172.17.0.1"+onBridge), err: imds.ErrNoRole},
		{name: "cidr rule for a non-container", finder: nil, c: caller("10.1.2.3:40000", "10.1.0.1:9254"), want: "batch"},
		{name: "unknown container is an error, not the default", finder: finder, c: caller("172.17.0.99:40000", "172.17.0.1"+onBridge), err: containers.ErrUnknown, notID: true},
		{name: "engine down is an error, not the default", finder: down, c: caller("172.17.0.2:40000", "172.17.0.1"+onBridge), err: containers.ErrUnreachable, notID: true},
		{name: "remote peer with containers on is looked up", finder: finder, c: caller("172.17.0.3:40000", "192.168.1.5:9254"), want: "role-b"},
		{name: "remote peer not a container is an error", finder: finder, c: caller("192.168.1.9:40000", "192.168.1.5:9254"), err: containers.ErrUnknown, notID: true},
		{name: "containers off: remote peer gets none", finder: nil, c: caller("192.168.1.9:40000", "192.168.1.5:9254"), err: imds.ErrNoRole},
		{name: "containers off: container on a link-local listener gets none", finder: nil, c: caller("172.17.0.2:40000", "169.254.169.254:80"), err: imds.ErrNoRole},
		{name: "containers off: bridge caller is an error", finder: nil, c: caller("172.17.0.2:40000", "172.17.0.1"+onBridge), err: errNotIdentified, notID: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			r := &clientRouter{
				log:      slog.New(slog.NewTextHandler(&logs, nil)),
				onBridge: func(a netip.Addr) bool { return a == bridge },
			}
			if tc.finder != nil {
				r.finder = tc.finder
			}
			got, _, err := r.route(context.Background(), tc.c, &config.Config{Clients: rules}, "host", has)
			if tc.err == nil {
				if err != nil || got != tc.want {
					t.Fatalf("got %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, tc.err) || got != "" {
				t.Fatalf("got %q, %v; want error %v", got, err, tc.err)
			}
			if tc.notID && errors.Is(err, imds.ErrNoRole) {
				t.Errorf("an unidentified caller must get an error, not ErrNoRole")
			}
		})
	}
}

// TestClientRouter_ContainerDefault: containers.default_role is what an
// unlabelled container gets; an unknown label is still refused.
func TestClientRouter_ContainerDefault(t *testing.T) {
	r := &clientRouter{
		log: slog.New(slog.DiscardHandler),
		finder: finderOf(map[string]containers.Container{
			"172.17.0.4": labelled("plain", ""),
			"172.17.0.5": labelled("bogus", "bogus"),
		}),
	}
	cfg := &config.Config{Containers: config.Containers{DefaultRole: "role-b"}}
	has := func(n string) bool { return n == "role-b" }
	if got, _, err := r.route(context.Background(), caller("172.17.0.4:1", "172.17.0.1:9254"), cfg, "host", has); err != nil || got != "role-b" {
		t.Errorf("unlabelled: got %q, %v; want role-b", got, err)
	}
	if _, _, err := r.route(context.Background(), caller("172.17.0.5:1", "172.17.0.1:9254"), cfg, "host", has); !errors.Is(err, imds.ErrNoRole) {
		t.Errorf("unknown label: got %v, want ErrNoRole", err)
	}
}

// TestClientRouter_UnknownLabelLogged: the log says why a container gets
// nothing, once per container and label.
func TestClientRouter_UnknownLabelLogged(t *testing.T) {
	var logs bytes.Buffer
	r := &clientRouter{
		log:    slog.New(slog.NewTextHandler(&logs, nil)),
		finder: finderOf(map[string]containers.Container{"172.17.0.5": labelled("0123456789abcdef", "bogus")}),
	}
	for range 3 {
		if _, _, err := r.route(context.Background(), caller("172.17.0.5:1", "172.17.0.1:9254"), &config.Config{}, "host", func(string) bool { return false }); !errors.Is(err, imds.ErrNoRole) {
			t.Fatalf("got %v, want ErrNoRole", err)
		}
	}
	out := logs.String()
	if strings.Count(out, "does not offer") != 1 || !strings.Contains(out, "imdsd.role=bogus") || !strings.Contains(out, "0123456789ab") {
		t.Errorf("want one warning naming the label and the container, got:\n%s", out)
	}
}

// TestOps_ContainerRoles goes through the daemon's source: the host keeps
// the default role, a container gets its label's role or nothing.
func TestOps_ContainerRoles(t *testing.T) {
	o := fakeOps(t, "", "host", "role-a")
	o.router = &clientRouter{
		log:    o.log,
		finder: finderOf(map[string]containers.Container{"172.17.0.2": labelled("a", "role-a"), "172.17.0.3": labelled("p", "")}),
	}
	tests := []struct {
		c    imds.Caller
		want string
		err  error
	}{
		{caller("127.0.0.1:1", "127.0.0.1:9254"), "host", nil},
		{caller("172.17.0.2:1", "172.17.0.1:9254"), "role-a", nil},
		{caller("172.17.0.3:1", "172.17.0.1:9254"), "", imds.ErrNoRole},
	}
	for _, tc := range tests {
		r, err := o.Credentials(context.Background(), tc.c)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: got %v, want %v", tc.c.Remote, err, tc.err)
			}
			continue
		}
		if err != nil || r.Name != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.c.Remote, r.Name, err, tc.want)
		}
	}
}

// TestClientRouter_NamesTheContainer: the route names the container it
// identified, so status and the audit line need no second lookup; a host
// caller names none.
func TestClientRouter_NamesTheContainer(t *testing.T) {
	r := &clientRouter{
		log:    slog.New(slog.DiscardHandler),
		finder: finderOf(map[string]containers.Container{"172.17.0.4": labelled("web-1", "role-b")}),
	}
	has := func(n string) bool { return n == "role-b" }
	role, ct, err := r.route(context.Background(), caller("172.17.0.4:1", "172.17.0.1:9254"), &config.Config{}, "host", has)
	if err != nil || role != "role-b" || ct != "ctr-web-1" {
		t.Errorf("container: got %q, %q, %v; want role-b, ctr-web-1", role, ct, err)
	}
	role, ct, err = r.route(context.Background(), caller("127.0.0.1:1", "127.0.0.1:9254"), &config.Config{}, "host", has)
	if err != nil || role != "host" || ct != "" {
		t.Errorf("host caller: got %q, %q, %v; want host and no container", role, ct, err)
	}
}
