package netnstest

import (
	"net"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

func TestRun_LoopbackState(t *testing.T) {
	for name, up := range map[string]bool{"up": true, "down": false} {
		t.Run(name, func(t *testing.T) {
			ran := false
			Run(t, up, func() {
				ran = true
				lo, err := netlink.LinkByName("lo")
				if err != nil {
					t.Errorf("lo: %v", err)
					return
				}
				if got := lo.Attrs().Flags&net.FlagUp != 0; got != up {
					t.Errorf("lo up = %v, want %v", got, up)
				}
			})
			if !ran {
				t.Fatal("f did not run")
			}
		})
	}
}

func TestRun_NewNamespace(t *testing.T) {
	outside, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer outside.Close()
	Run(t, false, func() {
		inside, err := netns.Get()
		if err != nil {
			t.Errorf("the namespace f runs in: %v", err)
			return
		}
		defer inside.Close()
		if inside.Equal(outside) {
			t.Errorf("f runs in the test's own network namespace %s", inside)
		}
	})
}
