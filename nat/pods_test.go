package nat

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestValidatePattern(t *testing.T) {
	tests := map[string]struct {
		pattern string
		wantErr string // "" for valid
	}{
		"prefix":          {"cali+", ""},
		"exact":           {"cni0", ""},
		"dots and dashes": {"eni-a.b_c", ""},
		"15 bytes":        {"abcdefghijklmno", ""},
		"15 bytes prefix": {"abcdefghijklmno+", ""},
		"lone plus":       {"+", "every interface"},
		"empty":           {"", "empty"},
		"16 bytes":        {"abcdefghijklmnop", "longer than 15"},
		"star":            {"cali*", "not \"cali*\""},
		"plus inside":     {"ca+li", "only at the end"},
		"quote":           {`ca"li`, "letters, digits"},
		"space":           {"ca li", "letters, digits"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := ValidatePattern(tc.pattern)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidatePattern(%q) = %v, want nil", tc.pattern, err)
				}
				return
			}
			if !errors.Is(err, ErrBadPattern) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ValidatePattern(%q) = %v, want ErrBadPattern saying %q", tc.pattern, err, tc.wantErr)
			}
		})
	}
}

func TestPods_Validate(t *testing.T) {
	ok := Pods{Interfaces: []string{"cali+"}, V4: netip.MustParseAddr("10.0.0.5"), IMDS: 9254}
	tests := map[string]struct {
		mod     func(*Pods)
		wantErr string
	}{
		"valid":          {func(*Pods) {}, ""},
		"v6 only":        {func(p *Pods) { p.V4 = netip.Addr{}; p.V6 = netip.MustParseAddr("2001:db8::5") }, ""},
		"no patterns":    {func(p *Pods) { p.Interfaces = nil }, "cali+, cni0"},
		"bad pattern":    {func(p *Pods) { p.Interfaces = []string{"cali*"} }, "cali*"},
		"no address":     {func(p *Pods) { p.V4 = netip.Addr{} }, "status.hostIP"},
		"loopback":       {func(p *Pods) { p.V4 = netip.MustParseAddr("127.0.0.1") }, "not loopback"},
		"link-local":     {func(p *Pods) { p.V4 = netip.MustParseAddr("169.254.169.254") }, "not loopback, link-local"},
		"v6 in V4":       {func(p *Pods) { p.V4 = netip.MustParseAddr("2001:db8::5") }, "IPv4 address 2001:db8::5"},
		"v4 in V6":       {func(p *Pods) { p.V6 = netip.MustParseAddr("10.0.0.6") }, "IPv6 address 10.0.0.6"},
		"link-local V6":  {func(p *Pods) { p.V6 = netip.MustParseAddr("fe80::1") }, "global IPv6"},
		"no port":        {func(p *Pods) { p.IMDS = 0 }, "IMDS port"},
		"pod identity 0": {func(p *Pods) { p.PodIdentity = 0 }, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := ok
			p.Interfaces = slices.Clone(ok.Interfaces)
			tc.mod(&p)
			err := p.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate = %v, want an error saying %q", err, tc.wantErr)
			}
		})
	}
}

func TestPlanPods(t *testing.T) {
	p := Pods{
		Interfaces:  []string{"cali+", "cni0"},
		V4:          netip.MustParseAddr("10.0.0.5"),
		V6:          netip.MustParseAddr("2001:db8::5"),
		IMDS:        9254,
		PodIdentity: 9256,
	}
	want := []string{
		"imdsd: cali+ 169.254.169.254:80 -> 10.0.0.5:9254",
		"imdsd: cni0 169.254.169.254:80 -> 10.0.0.5:9254",
		"imdsd: cali+ 169.254.170.23:80 -> 10.0.0.5:9256",
		"imdsd: cni0 169.254.170.23:80 -> 10.0.0.5:9256",
		"imdsd: cali+ [fd00:ec2::254]:80 -> [2001:db8::5]:9254",
		"imdsd: cni0 [fd00:ec2::254]:80 -> [2001:db8::5]:9254",
		"imdsd: cali+ [fd00:ec2::23]:80 -> [2001:db8::5]:9256",
		"imdsd: cni0 [fd00:ec2::23]:80 -> [2001:db8::5]:9256",
		"imdsd: cali+ may reach 10.0.0.5:9254",
		"imdsd: cni0 may reach 10.0.0.5:9254",
		"imdsd: nothing else reaches 10.0.0.5:9254",
		"imdsd: cali+ may reach 10.0.0.5:9256",
		"imdsd: cni0 may reach 10.0.0.5:9256",
		"imdsd: nothing else reaches 10.0.0.5:9256",
		"imdsd: cali+ may reach [2001:db8::5]:9254",
		"imdsd: cni0 may reach [2001:db8::5]:9254",
		"imdsd: nothing else reaches [2001:db8::5]:9254",
		"imdsd: cali+ may reach [2001:db8::5]:9256",
		"imdsd: cni0 may reach [2001:db8::5]:9256",
		"imdsd: nothing else reaches [2001:db8::5]:9256",
	}
	if got := comments(PlanPods(p)); !slices.Equal(got, want) {
		t.Errorf("PlanPods:\ngot  %q\nwant %q", got, want)
	}

	p.V6, p.PodIdentity = netip.Addr{}, 0
	if got := len(PlanPods(p)); got != 2+3 {
		t.Errorf("v4 only, no Pod Identity: %d rules, want 5 (2 DNAT, 2 allow, 1 guard)", got)
	}
}

// TestRules_Order: the whole table keeps the bridge rules as they were and
// puts every nat-chain rule before every filter-chain rule, the order
// Current reads them back in.
func TestRules_Order(t *testing.T) {
	bridges := []Bridge{{Name: "docker0", V4: pfx("172.17.0.1/16")}}
	ports := Ports{IMDS: 9254, Endpoint: 9255}
	pods := &Pods{Interfaces: []string{"cali+"}, V4: netip.MustParseAddr("10.0.0.5"), IMDS: 9254}
	if got, want := comments(Rules(bridges, ports, nil)), comments(Plan(bridges, ports)); !slices.Equal(got, want) {
		t.Errorf("without pods:\ngot  %q\nwant %q", got, want)
	}
	got := Rules(bridges, ports, pods)
	if len(got) != len(Plan(bridges, ports))+len(PlanPods(*pods)) {
		t.Fatalf("got %d rules, want every bridge and pod rule", len(got))
	}
	seenFilter := false
	for _, r := range got {
		if seenFilter && !r.filter() {
			t.Fatalf("DNAT rule %q after a filter rule: %q", r, comments(got))
		}
		seenFilter = seenFilter || r.filter()
	}
}

func TestScript(t *testing.T) {
	pods := &Pods{Interfaces: []string{"cali+", "cni0"}, V4: netip.MustParseAddr("10.0.0.5"), V6: netip.MustParseAddr("2001:db8::5"), IMDS: 9254, PodIdentity: 9256}
	s, err := Script(Rules(nil, Ports{}, pods))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"add table inet imdsd\ndelete table inet imdsd\ntable inet imdsd {",
		"type nat hook prerouting priority dstnat - 10; policy accept;",
		`iifname "cali*" ip daddr 169.254.169.254 tcp dport 80 dnat ip to 10.0.0.5:9254 comment "imdsd: cali+ 169.254.169.254:80 -> 10.0.0.5:9254"`,
		`iifname "cni0" ip6 daddr fd00:ec2::23 tcp dport 80 dnat ip6 to [2001:db8::5]:9256`,
		`iifname "cali*" ip daddr 10.0.0.5 tcp dport 9254 accept`,
		`ip daddr 10.0.0.5 tcp dport 9254 drop comment "imdsd: nothing else reaches 10.0.0.5:9254"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
	if _, err := Script([]Rule{{Interface: "cali*", Dest: netip.MustParseAddrPort("169.254.169.254:80"), To: netip.MustParseAddrPort("10.0.0.5:9254")}}); !errors.Is(err, ErrBadPattern) {
		t.Errorf("a bad pattern: got %v, want ErrBadPattern", err)
	}
}
