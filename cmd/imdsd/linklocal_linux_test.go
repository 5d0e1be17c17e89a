package main

import (
	"github.com/imdsd/imdsd/config"
	"log/slog"
	"net/netip"
	"slices"
	"testing"

	"github.com/imdsd/imdsd/internal/netnstest"
	"github.com/imdsd/imdsd/linklocal"
)

// TestDaemon_LinkLocalListen: with link_local on, the daemon's start-up
// (addLinkLocal, then listen) puts both addresses on loopback and opens
// port 80 on each beside the configured listener; undo takes them off.
func TestDaemon_LinkLocalListen(t *testing.T) {
	netnstest.Run(t, true, func() {
		cfg := config.Config{LinkLocal: true, Listen: []string{"127.0.0.1:0"}}
		log := slog.New(slog.DiscardHandler)
		undo, err := addLinkLocal(cfg, log)
		if err != nil {
			t.Errorf("addLinkLocal: %v", err)
			return
		}
		for _, p := range linklocal.Prefixes() {
			if ok, err := linklocal.Present(p.Addr()); err != nil || !ok {
				t.Errorf("after addLinkLocal: %s present = %v (%v), want true", p.Addr(), ok, err)
			}
		}
		lns, err := listen(cfg, log)
		if err != nil {
			t.Errorf("listen: %v", err)
		} else {
			var got []string
			for _, ln := range lns {
				ap := netip.MustParseAddrPort(ln.Addr().String())
				if ap.Addr().IsLoopback() {
					continue // 127.0.0.1:0, a random port
				}
				got = append(got, ln.Addr().String())
				ln.Close()
			}
			if want := []string{"169.254.169.254:80", "[fd00:ec2::254]:80"}; !slices.Equal(got, want) {
				t.Errorf("link-local listeners: got %v, want %v", got, want)
			}
		}
		undo()
		for _, p := range linklocal.Prefixes() {
			if ok, _ := linklocal.Present(p.Addr()); ok {
				t.Errorf("after undo: %s still present", p.Addr())
			}
		}
	})
}

// TestAddLinkLocal_Off: with link_local off nothing is added, even in a
// namespace where it could be.
func TestAddLinkLocal_Off(t *testing.T) {
	netnstest.Run(t, true, func() {
		undo, err := addLinkLocal(config.Config{}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Errorf("addLinkLocal with link_local off: %v", err)
			return
		}
		defer undo()
		for _, p := range linklocal.Prefixes() {
			if ok, _ := linklocal.Present(p.Addr()); ok {
				t.Errorf("link_local off: %s was added", p.Addr())
			}
		}
	})
}
