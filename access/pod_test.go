package access

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
)

const (
	base    = "arn:aws:iam::123456789012:role/"
	nodeIP  = "10.0.0.5"
	podAddr = "10.244.1.7"
)

var errNoPod = errors.New("no pod has this address")

// podsOf is a pod source of one pod at podAddr.
func podsOf(p *Pod) func(context.Context, netip.Addr) (Pod, error) {
	return func(_ context.Context, a netip.Addr) (Pod, error) {
		if p != nil && a.String() == podAddr {
			return *p, nil
		}
		return Pod{}, errNoPod
	}
}

func pod(ann, nsAnn map[string]string) *Pod {
	return &Pod{Namespace: "team", Name: "web-1", UID: "uid-1", ServiceAccount: "web", Annotations: ann, NamespaceAnnotations: nsAnn, NamespaceKnown: true}
}

func podCaller(p *Pod) *Caller {
	return NewCaller(netip.MustParseAddrPort(podAddr+":40000"), netip.MustParseAddrPort("169.254.169.254:80"), false, &Sources{Pod: podsOf(p)})
}

// TestPolicy_PodStep is the pod step's table: every annotation, namespace
// restriction and format, kiam's anchoring, and the precedence of
// annotation, rules and default.
func TestPolicy_PodStep(t *testing.T) {
	role := func(v string) map[string]string { return map[string]string{AnnotationRole: v} }
	allowed := func(v string) map[string]string { return map[string]string{AnnotationAllowedRoles: v} }
	permitted := func(v string) map[string]string { return map[string]string{AnnotationPermitted: v} }
	rules := []Rule{
		{From: "clients[0]", Namespace: "team", ServiceAccount: "batch", Role: "batch"},
		{From: "clients[1]", Namespace: "other", Role: "role-a"},
		{From: "clients[2]", ServiceAccount: "web", Role: "role-b"},
	}
	tests := []struct {
		name     string
		rules    PodRules
		clients  []Rule
		pod      *Pod
		want     Grant
		err      error
		refused  string // the Event reason, "" for none
		noEvents bool
	}{
		{name: "name resolved against the base ARN, restrictions off", rules: PodRules{BaseARN: base}, pod: pod(role("app"), nil),
			want: Grant{Role: base + "app", ByARN: true, From: "annotation " + AnnotationRole}},
		{name: "full ARN, restrictions off", rules: PodRules{}, pod: pod(role("arn:aws:iam::210987654321:role/x/app"), nil),
			want: Grant{Role: "arn:aws:iam::210987654321:role/x/app", ByARN: true, From: "annotation " + AnnotationRole}},
		{name: "leading slash in the name", rules: PodRules{BaseARN: base}, pod: pod(role("/app"), nil),
			want: Grant{Role: base + "app", ByARN: true, From: "annotation " + AnnotationRole}},
		{name: "external id and session name", rules: PodRules{BaseARN: base},
			pod:  pod(map[string]string{AnnotationRole: "app", AnnotationExternalID: "ext", AnnotationSessionName: "s1"}, nil),
			want: Grant{Role: base + "app", ByARN: true, ExternalID: "ext", SessionName: "s1", From: "annotation " + AnnotationRole}},
		{name: "name without a base ARN", rules: PodRules{}, pod: pod(role("app"), nil), err: ErrNoRole, refused: ReasonRoleInvalid},
		{name: "malformed ARN", rules: PodRules{BaseARN: base}, pod: pod(role("arn:aws:s3:::bucket"), nil), err: ErrNoRole, refused: ReasonRoleInvalid},
		{name: "name with spaces", rules: PodRules{BaseARN: base}, pod: pod(role("my role"), nil), err: ErrNoRole, refused: ReasonRoleInvalid},

		{name: "restricted: namespace without a permit", rules: PodRules{BaseARN: base, Restrict: true}, pod: pod(role("app"), nil), err: ErrNoRole, refused: ReasonRoleNotPermitted},
		{name: "restricted: namespace unknown yet", rules: PodRules{BaseARN: base, Restrict: true},
			pod: &Pod{Namespace: "team", Name: "web-1", UID: "u", Annotations: role("app")}, err: ErrNotYetIdentified, noEvents: true},
		{name: "allowed-roles glob by name", rules: PodRules{BaseARN: base, Restrict: true}, pod: pod(role("app-web"), allowed(`["app-*"]`)),
			want: Grant{Role: base + "app-web", ByARN: true, From: "annotation " + AnnotationRole}},
		{name: "allowed-roles glob by ARN", rules: PodRules{BaseARN: base, Restrict: true}, pod: pod(role("app"), allowed(`["arn:aws:iam::123456789012:role/*"]`)),
			want: Grant{Role: base + "app", ByARN: true, From: "annotation " + AnnotationRole}},
		{name: "allowed-roles exact", rules: PodRules{BaseARN: base, Restrict: true}, pod: pod(role("app"), allowed(`["other", "app"]`)),
			want: Grant{Role: base + "app", ByARN: true, From: "annotation " + AnnotationRole}},
		{name: "allowed-roles glob no match", rules: PodRules{BaseARN: base, Restrict: true}, pod: pod(role("db"), allowed(`["app-*"]`)), err: ErrNoRole, refused: ReasonRoleNotPermitted},
		{name: "allowed-roles glob of another account", rules: PodRules{BaseARN: base, Restrict: true}, pod: pod(role("arn:aws:iam::210987654321:role/app"), allowed(`["app"]`)), err: ErrNoRole, refused: ReasonRoleNotPermitted},
		{name: "allowed-roles not JSON", rules: PodRules{BaseARN: base, Restrict: true}, pod: pod(role("app"), allowed(`app`)), err: ErrNoRole, refused: ReasonRoleNotPermitted},
		{name: "allowed-roles regexp", rules: PodRules{BaseARN: base, Restrict: true, Format: FormatRegexp}, pod: pod(role("app-7"), allowed(`["app-[0-9]+"]`)),
			want: Grant{Role: base + "app-7", ByARN: true, From: "annotation " + AnnotationRole}},
		{name: "allowed-roles regexp is anchored", rules: PodRules{BaseARN: base, Restrict: true, Format: FormatRegexp}, pod: pod(role("app-7-admin"), allowed(`["app-[0-9]+"]`)), err: ErrNoRole, refused: ReasonRoleNotPermitted},
		{name: "allowed-roles regexp format does not glob", rules: PodRules{BaseARN: base, Restrict: true, Format: FormatRegexp}, pod: pod(role("appp"), allowed(`["app*"]`)),
			want: Grant{Role: base + "appp", ByARN: true, From: "annotation " + AnnotationRole}},
		{name: "allowed-roles bad regexp", rules: PodRules{BaseARN: base, Restrict: true, Format: FormatRegexp}, pod: pod(role("app"), allowed(`["app(("]`)), err: ErrNoRole, refused: ReasonRoleNotPermitted},
		{name: "kiam permitted by name", rules: PodRules{BaseARN: base, Restrict: true}, pod: pod(role("app-web"), permitted(`app-.*`)),
			want: Grant{Role: base + "app-web", ByARN: true, From: "annotation " + AnnotationRole}},
		{name: "kiam permitted by ARN", rules: PodRules{BaseARN: base, Restrict: true}, pod: pod(role(base+"app"), permitted(`arn:aws:iam::123456789012:role/app`)),
			want: Grant{Role: base + "app", ByARN: true, From: "annotation " + AnnotationRole}},
		{name: "kiam permitted is anchored at the start", rules: PodRules{BaseARN: base, Restrict: true}, pod: pod(role("evil-app"), permitted(`app`)), err: ErrNoRole, refused: ReasonRoleNotPermitted},
		{name: "kiam permitted is anchored at the end", rules: PodRules{BaseARN: base, Restrict: true}, pod: pod(role("app-admin"), permitted(`app`)), err: ErrNoRole, refused: ReasonRoleNotPermitted},
		{name: "kiam permitted alternation stays anchored", rules: PodRules{BaseARN: base, Restrict: true}, pod: pod(role("x-admin"), permitted(`a|x`)), err: ErrNoRole, refused: ReasonRoleNotPermitted},
		{name: "kiam bad regexp", rules: PodRules{BaseARN: base, Restrict: true}, pod: pod(role("app"), permitted(`(`)), err: ErrNoRole, refused: ReasonRoleNotPermitted},
		{name: "either annotation permits", rules: PodRules{BaseARN: base, Restrict: true},
			pod:  pod(role("app"), map[string]string{AnnotationAllowedRoles: `["db"]`, AnnotationPermitted: `app`}),
			want: Grant{Role: base + "app", ByARN: true, From: "annotation " + AnnotationRole}},

		{name: "annotation beats rules", rules: PodRules{BaseARN: base}, clients: rules, pod: pod(role("app"), nil),
			want: Grant{Role: base + "app", ByARN: true, From: "annotation " + AnnotationRole}},
		{name: "refused annotation does not fall to rules or default", rules: PodRules{BaseARN: base, Restrict: true, Default: "role-a"}, clients: rules, pod: pod(role("app"), nil), err: ErrNoRole, refused: ReasonRoleNotPermitted},
		{name: "service account rule", rules: PodRules{}, clients: rules, pod: &Pod{Namespace: "team", Name: "b", ServiceAccount: "batch"}, want: Grant{Role: "batch", From: "clients[0]"}},
		{name: "namespace rule", rules: PodRules{}, clients: rules, pod: &Pod{Namespace: "other", Name: "b", ServiceAccount: "x"}, want: Grant{Role: "role-a", From: "clients[1]"}},
		{name: "service account of any namespace", rules: PodRules{}, clients: rules, pod: &Pod{Namespace: "third", Name: "b", ServiceAccount: "web"}, want: Grant{Role: "role-b", From: "clients[2]"}},
		{name: "no rule: the kubernetes default", rules: PodRules{Default: "role-a"}, clients: rules, pod: &Pod{Namespace: "third", Name: "b", ServiceAccount: "x"}, want: Grant{Role: "role-a", From: "kubernetes.default_role"}},
		{name: "no rule, no default: nothing, never the host role", rules: PodRules{}, clients: rules, pod: &Pod{Namespace: "third", Name: "b", ServiceAccount: "x"}, err: ErrNoRole},
		{name: "default none", rules: PodRules{Default: None}, pod: &Pod{Namespace: "third", Name: "b"}, err: ErrNoRole},
		{name: "unknown address: not identified, never a default", rules: PodRules{Default: "role-a"}, err: ErrNotYetIdentified},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var events []string
			var logs bytes.Buffer
			p := &Policy{Pods: tc.rules, Clients: tc.clients, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
				PodRefused: func(p Pod, reason, msg string) { events = append(events, reason+": "+msg) }}
			got, err := p.Grant(context.Background(), podCaller(tc.pod), "host", served("host", "role-a", "role-b", "batch"))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("got %+v, %v; want %v", got, err, tc.err)
				}
			} else if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
			switch {
			case tc.refused != "" && (len(events) != 1 || !strings.HasPrefix(events[0], tc.refused)):
				t.Errorf("events %q, want one %s", events, tc.refused)
			case tc.refused == "" && len(events) > 0:
				t.Errorf("events %q, want none", events)
			case tc.refused != "" && strings.Count(logs.String(), "pod refused") != 1:
				t.Errorf("log %q: want one line saying why", logs.String())
			}
		})
	}
}

// TestPolicy_PodRefusedOnce: a pod asking again and again for a role its
// namespace does not permit is logged and evented once.
func TestPolicy_PodRefusedOnce(t *testing.T) {
	var logs bytes.Buffer
	events := 0
	p := &Policy{Pods: PodRules{BaseARN: base, Restrict: true}, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		PodRefused: func(Pod, string, string) { events++ }}
	pd := pod(map[string]string{AnnotationRole: "app"}, map[string]string{AnnotationPermitted: "db"})
	for range 5 {
		if _, err := p.Grant(context.Background(), podCaller(pd), "host", served("host")); !errors.Is(err, ErrNoRole) {
			t.Fatalf("got %v, want ErrNoRole", err)
		}
	}
	if events != 1 || strings.Count(logs.String(), "pod refused") != 1 {
		t.Fatalf("events %d, log %q: want one of each", events, logs.String())
	}
	if !strings.Contains(logs.String(), "namespace=team") || !strings.Contains(logs.String(), "pod=web-1") {
		t.Errorf("log %q does not name the namespace and pod", logs.String())
	}
}

// TestPolicy_PodPrecedence: host grants and the host default never reach
// a pod; a pod proven by token from a node address (hostNetwork) is
// decided by the pod step, not as a host process; a node process is not
// a pod.
func TestPolicy_PodPrecedence(t *testing.T) {
	p := &Policy{Pods: PodRules{BaseARN: base}, Grants: []Rule{{From: "units[0]", Unit: "kubelet.service", Role: "host"}},
		Clients: []Rule{{From: "clients[0]", CIDR: netip.MustParsePrefix("10.0.0.0/8"), Role: "role-a"}}}
	has := served("host", "role-a")
	src := &Sources{Pod: podsOf(nil), Unit: func(netip.AddrPort, netip.AddrPort) (string, error) { return "kubelet.service", nil }}

	node := NewCaller(netip.MustParseAddrPort(nodeIP+":1"), netip.MustParseAddrPort(nodeIP+":80"), false, src)
	if g, err := p.Grant(context.Background(), node, "host", has); err != nil || g.Role != "host" || node.IsPod() {
		t.Errorf("node process: got %+v, %v; want the unit's host role", g, err)
	}

	hostNet := NewCaller(netip.MustParseAddrPort(nodeIP+":2"), netip.MustParseAddrPort(nodeIP+":80"), false, src)
	hostNet.SetPod(Pod{Namespace: "team", Name: "hn", HostNetwork: true})
	if g, err := p.Grant(context.Background(), hostNet, "host", has); err != nil || g.Role != "role-a" || g.From != "clients[0]" {
		t.Errorf("hostNetwork pod by token: got %+v, %v; want clients[0]'s role-a, not the host's", g, err)
	}
	if hostNet.PodName() != "team/hn" || hostNet.IsContainer() {
		t.Errorf("PodName %q, IsContainer %v", hostNet.PodName(), hostNet.IsContainer())
	}

	pc := podCaller(pod(nil, nil))
	if _, err := (&Policy{}).Grant(context.Background(), pc, "host", has); !errors.Is(err, ErrNoRole) {
		t.Errorf("pod with no rule: got %v, want ErrNoRole (never the host's default)", err)
	}
	// Decide is Grant's role: an ARN for an annotated pod.
	if r, err := p.Decide(context.Background(), podCaller(pod(map[string]string{AnnotationRole: "app"}, nil)), "host", has); err != nil || r != base+"app" {
		t.Errorf("Decide: got %q, %v; want the ARN", r, err)
	}
}

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"a", "a", true}, {"a", "ab", false}, {"*", "", true}, {"a*", "abc", true}, {"*c", "abc", true},
		{"a*c", "abbc", true}, {"a*c", "abcd", false}, {"a*b*c", "aXbYc", true}, {"a*b*c", "acb", false},
		{"*/app", "path/to/app", true}, {"ab*ba", "aba", false},
	} {
		if got := globMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}
