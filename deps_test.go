package imdsd_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportGraph guards the layering in shared/STYLE.md: cmd/imdsd wires
// imds, roles and service together, and none of the three imports another
// (or cmd). The helper packages (control, metrics, nat, containers,
// linklocal, peercred) import none of them either: each is wired by cmd.
func TestImportGraph(t *testing.T) {
	const mod = "github.com/imdsd/imdsd/"
	pkgs := []string{"imds", "roles", "service", "control", "metrics", "nat", "containers", "linklocal", "peercred"}
	for _, from := range pkgs {
		out, err := exec.Command("go", "list", "-deps", "./"+from+"/...").CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "matched no packages") {
				continue
			}
			t.Fatalf("go list -deps ./%s/...: %v\n%s", from, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if !strings.HasPrefix(dep, mod) {
				continue
			}
			rel := strings.TrimPrefix(dep, mod)
			top := strings.SplitN(rel, "/", 2)[0]
			if top == from {
				continue
			}
			if top == "cmd" || top == "imds" || top == "roles" || top == "service" {
				t.Errorf("package %s imports %s: only cmd/imdsd may wire them together", from, dep)
			}
		}
	}
}
