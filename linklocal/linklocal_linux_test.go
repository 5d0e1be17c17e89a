package linklocal

import (
	"errors"
	"io/fs"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/imdsd/imdsd/internal/netnstest"
)

func TestAddRemove_Netns(t *testing.T) {
	netnstest.Run(t, false, func() {
		ps := Prefixes()
		assertPresent := func(when string, want bool) {
			t.Helper()
			for _, p := range ps {
				got, err := Present(p.Addr())
				if err != nil {
					t.Errorf("%s: Present(%s): %v", when, p.Addr(), err)
					continue
				}
				if got != want {
					t.Errorf("%s: Present(%s) = %v, want %v", when, p.Addr(), got, want)
				}
			}
		}
		assertPresent("before Add", false)
		if err := Add(ps...); err != nil {
			t.Errorf("Add: %v", err)
			return
		}
		assertPresent("after Add", true)
		if err := Add(ps...); err != nil {
			t.Errorf("second Add (must be idempotent): %v", err)
		}
		assertPresent("after second Add", true)
		if err := Remove(ps...); err != nil {
			t.Errorf("Remove: %v", err)
		}
		assertPresent("after Remove", false)
		if err := Remove(ps...); err != nil {
			t.Errorf("second Remove (must be idempotent): %v", err)
		}
	})
}

func TestError_NamesPrivilege(t *testing.T) {
	p := netip.MustParsePrefix("169.254.169.254/32")
	tests := map[string]struct {
		err      error
		want     string
		wantPerm bool
	}{
		"EPERM":  {syscall.EPERM, "needs CAP_NET_ADMIN", true},
		"EACCES": {syscall.EACCES, "needs CAP_NET_ADMIN", true},
		"other":  {syscall.ENODEV, "no such device", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := error(&Error{Op: "add", Prefix: p, Interface: "lo", Err: tc.err})
			if got := err.Error(); !strings.Contains(got, tc.want) || !strings.Contains(got, "add 169.254.169.254/32 on lo") {
				t.Errorf("got %q, want it to name the operation and contain %q", got, tc.want)
			}
			if got := errors.Is(err, fs.ErrPermission); got != tc.wantPerm {
				t.Errorf("errors.Is(err, fs.ErrPermission) = %v, want %v", got, tc.wantPerm)
			}
			if tc.wantPerm == false && strings.Contains(err.Error(), "CAP_NET_ADMIN") {
				t.Errorf("got %q: a non-permission error must not blame privileges", err)
			}
		})
	}
}

func TestPrefixes(t *testing.T) {
	got := Prefixes()
	want := []string{"169.254.169.254/32", "fd00:ec2::254/128"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("got %s, want %s", got[i], want[i])
		}
	}
}
