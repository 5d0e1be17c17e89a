package nat

import (
	"net/netip"
	"slices"
	"testing"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func TestSelector_Select(t *testing.T) {
	ifaces := []Interface{
		{Name: "eth0", Addrs: []netip.Prefix{pfx("10.0.0.5/24")}},
		{Name: "docker0", Bridge: true, Addrs: []netip.Prefix{pfx("172.17.0.1/16"), pfx("fe80::1/64")}},
		{Name: "br-0123abcd", Bridge: true, Addrs: []netip.Prefix{pfx("172.18.0.1/16"), pfx("fd00:dead::1/64")}},
		{Name: "podman0", Bridge: true, Addrs: []netip.Prefix{pfx("10.88.0.1/16")}},
		{Name: "br-noaddr", Bridge: true},
		{Name: "br-notabridge", Addrs: []netip.Prefix{pfx("192.168.9.1/24")}},
		{Name: "virbr0", Bridge: true, Addrs: []netip.Prefix{pfx("192.168.122.1/24")}},
		{Name: "tap7", Addrs: []netip.Prefix{pfx("10.200.0.1/24")}},
	}
	tests := map[string]struct {
		sel  Selector
		want []string
	}{
		"auto":           {Selector{Auto: true}, []string{"br-0123abcd", "docker0", "podman0"}},
		"none":           {Selector{}, nil},
		"named":          {Selector{Interfaces: []string{"virbr0"}}, []string{"virbr0"}},
		"cidr":           {Selector{CIDRs: []netip.Prefix{pfx("10.200.0.0/16")}}, []string{"tap7"}},
		"auto and named": {Selector{Auto: true, Interfaces: []string{"virbr0"}}, []string{"br-0123abcd", "docker0", "podman0", "virbr0"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := names(tc.sel.Select(ifaces))
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSelector_SelectAddresses(t *testing.T) {
	b := Selector{Auto: true}.Select([]Interface{
		{Name: "br-x", Bridge: true, Addrs: []netip.Prefix{pfx("fe80::1/64"), pfx("169.254.3.1/16"), pfx("172.18.0.1/16"), pfx("fd00:dead::1/64")}},
	})
	if len(b) != 1 {
		t.Fatalf("got %d bridges, want 1", len(b))
	}
	if b[0].V4 != pfx("172.18.0.1/16") || b[0].V6 != pfx("fd00:dead::1/64") {
		t.Errorf("got v4 %s v6 %s, want 172.18.0.1/16 and fd00:dead::1/64 (link-local skipped)", b[0].V4, b[0].V6)
	}
	if got, want := b[0].Networks(), []netip.Prefix{pfx("172.18.0.0/16"), pfx("fd00:dead::/64")}; !slices.Equal(got, want) {
		t.Errorf("networks: got %v, want %v", got, want)
	}
}

func TestPlan(t *testing.T) {
	bridges := []Bridge{
		{Name: "docker0", V4: pfx("172.17.0.1/16")},
		{Name: "br-a", V4: pfx("172.18.0.1/16"), V6: pfx("fd00:dead::1/64")},
	}
	got := comments(Plan(bridges, Ports{IMDS: 9254, Endpoint: 9255}))
	want := []string{
		"imdsd: docker0 169.254.169.254:80 -> 172.17.0.1:9254",
		"imdsd: docker0 169.254.170.2:80 -> 172.17.0.1:9255",
		"imdsd: br-a 169.254.169.254:80 -> 172.18.0.1:9254",
		"imdsd: br-a 169.254.170.2:80 -> 172.18.0.1:9255",
		"imdsd: br-a [fd00:ec2::254]:80 -> [fd00:dead::1]:9254",
		"imdsd: only docker0 reaches 172.17.0.1:9254",
		"imdsd: only docker0 reaches 172.17.0.1:9255",
		"imdsd: only br-a reaches 172.18.0.1:9254",
		"imdsd: only br-a reaches 172.18.0.1:9255",
		"imdsd: only br-a reaches [fd00:dead::1]:9254",
		"imdsd: only br-a reaches [fd00:dead::1]:9255",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	if got := Plan(bridges[:1], Ports{IMDS: 9254}); len(got) != 2 {
		t.Errorf("without an endpoint port: got %d rules, want a DNAT and its guard", len(got))
	}
}
