package daemon

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/imdsd/imdsd/access"
	"github.com/imdsd/imdsd/config"
	"github.com/imdsd/imdsd/containers"
	"github.com/imdsd/imdsd/imds"
)

// fakeFinder is a container lookup over a fixed table.
type fakeFinder struct {
	fn func(netip.Addr) (containers.Container, error)
}

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

// TestOps_ContainerRoles goes through the daemon's source: the host keeps
// the default role, a container gets its label's role or nothing.
func TestOps_ContainerRoles(t *testing.T) {
	o := fakeOps(t, "", "host", "role-a")
	finder := finderOf(map[string]containers.Container{"172.17.0.2": labelled("a", "role-a"), "172.17.0.3": labelled("p", "")})
	o.sources.src.Container = func(ctx context.Context, a netip.Addr) (access.Container, error) {
		ct, err := finder.Lookup(ctx, a)
		return access.Container{ID: ct.ID, Name: ct.Name, Labels: ct.Labels}, err
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
