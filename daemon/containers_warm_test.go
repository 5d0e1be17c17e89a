package daemon

import (
	"context"
	"testing"

	"github.com/imdsd/imdsd/config"
	"github.com/imdsd/imdsd/containers"
)

func (e *roleEntry) running() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cancel != nil
}

// TestWarmContainerRole: a container's create/start event starts the role
// its label names, else containers.default_role, and no other (each
// role's refresher stopped first, as a lazily fetched role would be).
func TestWarmContainerRole(t *testing.T) {
	for name, tc := range map[string]struct {
		labels  map[string]string
		defRole string
		want    string // "" for none
	}{
		"label names a role":         {map[string]string{config.ContainerRoleLabel: "web"}, "other", "web"},
		"label names no served role": {map[string]string{config.ContainerRoleLabel: "admin"}, "other", "other"},
		"no label, a default role":   {nil, "other", "other"},
		"no label, no default role":  {nil, config.RoleNone, ""},
	} {
		t.Run(name, func(t *testing.T) {
			o := fakeOps(t, "", "host", "web", "other")
			cfg := *o.cfg.Load()
			cfg.Containers.DefaultRole = tc.defRole
			o.cfg.Store(&cfg)
			set := o.set.Load()
			for _, n := range set.order {
				set.byName[n].stop()
			}
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(func() {
				cancel()
				for _, n := range set.order {
					set.byName[n].stop()
				}
			})
			o.warmContainerRole(ctx, containers.Container{ID: "aaa", Name: "c", Labels: tc.labels})
			for _, n := range set.order {
				if got := set.byName[n].running(); got != (n == tc.want) {
					t.Errorf("role %s running %v, want %v", n, got, n == tc.want)
				}
			}
		})
	}
}
