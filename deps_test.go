package imdsd_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// layers is the import layering of shared/STYLE.md and issue 14: for each
// package, the packages of this module it may import. cmd/imdsd wires
// them together; nothing imports cmd. A package not listed here (a new
// one) fails the test until it is given its place.
var layers = map[string][]string{
	// The protocol: knows nothing of STS, the config, the policy or the
	// running daemon.
	"imds": {},
	// Roles: STS, refresh; knows nothing of HTTP serving or the config.
	"roles": {},
	// The service adapter.
	"service": {},
	// The config: its validators are the ones imds and roles own.
	"config": {"imds", "roles", "peercred"},
	// The policy: who calls and which role it may have; no HTTP.
	"access": {"peercred"},
	// The running role set: built from the config, reloaded as a diff,
	// MFA, the control operations; it answers imds as its Source.
	"daemon": {"access", "config", "containers", "control", "imds", "kube", "metrics", "nat", "peercred", "roles"},
	// The diagnosis of `imdsd doctor`: it asks the daemon as a client does.
	"doctor": {"config", "control", "imds", "internal", "nat", "peercred", "roles"},
	// Helpers, each wired by cmd.
	"control":    {},
	"metrics":    {},
	"nat":        {},
	"containers": {},
	// The Kubernetes identity source (pods by address, TokenReview).
	"kube":      {},
	"linklocal": {},
	"peercred":  {},
	"packaging": {},
	"internal":  {"internal", "roles", "imds"},
	"scripts":   {"imds", "roles", "internal"},
	// The Kubernetes manifests' tests (a real kube-apiserver through internal/k8stest).
	"deploy": {"internal"},
}

// noHTTP are packages that must not reach net/http, even indirectly.
var noHTTP = []string{"access"}

const mod = "github.com/imdsd/imdsd/"

// TestImportGraph fails when a package imports one of this module it may
// not, or when the policy package comes to depend on HTTP.
func TestImportGraph(t *testing.T) {
	out, err := exec.Command("go", "list", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list ./...: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if !strings.HasPrefix(pkg, mod) || strings.HasPrefix(pkg, mod+"cmd/") {
			continue
		}
		deps, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, deps)
		}
		for _, v := range violations(pkg, strings.Fields(string(deps))) {
			t.Error(v)
		}
	}
}

// violations lists what breaks the layering in one package's deps.
func violations(pkg string, deps []string) []string {
	from := strings.SplitN(strings.TrimPrefix(pkg, mod), "/", 2)[0]
	allowed, ok := layers[from]
	if !ok {
		return []string{"package " + pkg + " has no place in the layering: add it to layers in deps_test.go"}
	}
	var out []string
	for _, dep := range deps {
		if dep == "net/http" && slices.Contains(noHTTP, from) {
			out = append(out, "package "+pkg+" depends on net/http: the policy must know nothing of HTTP")
		}
		if !strings.HasPrefix(dep, mod) {
			continue
		}
		top := strings.SplitN(strings.TrimPrefix(dep, mod), "/", 2)[0]
		if top != from && !slices.Contains(allowed, top) {
			out = append(out, "package "+pkg+" imports "+dep+": the layering allows "+from+" only ["+strings.Join(allowed, " ")+"]")
		}
	}
	return out
}

// TestViolations: the rule sees each kind of break.
func TestViolations(t *testing.T) {
	for name, tc := range map[string]struct {
		pkg  string
		deps []string
		want int
	}{
		"imds importing roles":        {mod + "imds", []string{"fmt", mod + "roles"}, 1},
		"roles importing imds":        {mod + "roles", []string{mod + "imds/x"}, 1},
		"access reaching net/http":    {mod + "access", []string{"net/http", mod + "peercred"}, 1},
		"access importing config":     {mod + "access", []string{mod + "config"}, 1},
		"a package with no place":     {mod + "daemonx", nil, 1},
		"config importing validators": {mod + "config", []string{mod + "imds", mod + "roles", "net/http"}, 0},
		"a package importing itself":  {mod + "imds/sub", []string{mod + "imds"}, 0},
	} {
		if got := violations(tc.pkg, tc.deps); len(got) != tc.want {
			t.Errorf("%s: got %v, want %d violations", name, got, tc.want)
		}
	}
}
