package kube

import (
	"net/netip"
	"testing"
	"time"
)

func TestIndex_Owner(t *testing.T) {
	a := netip.MustParseAddr("10.0.0.5")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pod := func(name, phase string, created time.Time, host bool) Pod {
		return Pod{Namespace: "ns", Name: name, UID: name + "-uid", IPs: []netip.Addr{a}, Phase: phase, Created: created, HostNetwork: host}
	}
	tests := map[string]struct {
		set    []Pod
		remove []string
		want   string // "" for no owner
	}{
		"one running pod":                     {set: []Pod{pod("a", "Running", t0, false)}, want: "a"},
		"pending pod with an address":         {set: []Pod{pod("a", "Pending", t0, false)}, want: "a"},
		"succeeded pod owns nothing":          {set: []Pod{pod("a", "Succeeded", t0, false)}, want: ""},
		"failed pod owns nothing":             {set: []Pod{pod("a", "Failed", t0, false)}, want: ""},
		"hostNetwork pod owns nothing":        {set: []Pod{pod("a", "Running", t0, true)}, want: ""},
		"newer pod wins, seen first":          {set: []Pod{pod("new", "Running", t0.Add(time.Minute), false), pod("old", "Running", t0, false)}, want: "new"},
		"newer pod wins, seen last":           {set: []Pod{pod("old", "Running", t0, false), pod("new", "Running", t0.Add(time.Minute), false)}, want: "new"},
		"same second: the last claim wins":    {set: []Pod{pod("a", "Running", t0, false), pod("b", "Running", t0, false)}, want: "b"},
		"finished newer pod leaves the older": {set: []Pod{pod("old", "Running", t0, false), pod("new", "Failed", t0.Add(time.Minute), false)}, want: "old"},
		"deleted pod owns nothing":            {set: []Pod{pod("a", "Running", t0, false)}, remove: []string{"ns/a"}, want: ""},
		"deleted newer pod leaves the older":  {set: []Pod{pod("old", "Running", t0, false), pod("new", "Running", t0.Add(time.Minute), false)}, remove: []string{"ns/new"}, want: "old"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			x := newIndex()
			for _, p := range tc.set {
				x.set(p)
			}
			for _, k := range tc.remove {
				x.remove(k)
			}
			got, ok := x.owner(a)
			if tc.want == "" {
				if ok {
					t.Fatalf("owner of %s: got %s, want none", a, got.Key())
				}
				return
			}
			if !ok || got.Name != tc.want {
				t.Fatalf("owner of %s: got %q (found %v), want %q", a, got.Name, ok, tc.want)
			}
		})
	}
}

// TestIndex_UpdateKeepsClaim: a status update that does not change a pod's
// addresses does not make it the newest claimer of them.
func TestIndex_UpdateKeepsClaim(t *testing.T) {
	a := netip.MustParseAddr("10.0.0.5")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	x := newIndex()
	x.set(Pod{Namespace: "ns", Name: "a", IPs: []netip.Addr{a}, Phase: "Running", Created: t0})
	x.set(Pod{Namespace: "ns", Name: "b", IPs: []netip.Addr{a}, Phase: "Running", Created: t0})
	x.set(Pod{Namespace: "ns", Name: "a", IPs: []netip.Addr{a}, Phase: "Running", Created: t0, Annotations: map[string]string{"x": "y"}})
	if got, _ := x.owner(a); got.Name != "b" {
		t.Fatalf("owner after an update of a: got %q, want b (the last to claim the address)", got.Name)
	}
}

// TestIndex_MovedAddress: a pod whose address changes is found only at the
// new one.
func TestIndex_MovedAddress(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("fd00::5")
	x := newIndex()
	x.set(Pod{Namespace: "ns", Name: "p", IPs: []netip.Addr{a}, Phase: "Running"})
	x.set(Pod{Namespace: "ns", Name: "p", IPs: []netip.Addr{b}, Phase: "Running"})
	if _, ok := x.owner(a); ok {
		t.Fatalf("old address %s still owned", a)
	}
	if got, ok := x.owner(b); !ok || got.Name != "p" {
		t.Fatalf("new address %s: got %q, want p", b, got.Name)
	}
	if len(x.byIP) != 1 {
		t.Fatalf("byIP has %d addresses, want 1", len(x.byIP))
	}
}

func TestTokenExpiry(t *testing.T) {
	enc := func(payload string) string {
		return "e30." + b64(payload) + ".c2ln"
	}
	tests := map[string]struct {
		token string
		want  time.Time
		err   string
	}{
		"exp":            {token: enc(`{"exp":1800000000}`), want: time.Unix(1800000000, 0)},
		"not a JWT":      {token: "abc", err: "not a JWT"},
		"bad base64":     {token: "a.!!.b", err: "base64url"},
		"not JSON":       {token: enc(`nope`), err: "not JSON"},
		"no exp":         {token: enc(`{"sub":"x"}`), err: "no exp"},
		"exp not number": {token: enc(`{"exp":"soon"}`), err: "not JSON"},
		"exp fraction":   {token: enc(`{"exp":1.5}`), err: "positive integer"},
		"exp negative":   {token: enc(`{"exp":-1}`), err: "positive integer"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := tokenExpiry(tc.token)
			if tc.err != "" {
				if err == nil || !contains(err.Error(), tc.err) {
					t.Fatalf("got %v, %v; want an error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil || !got.Equal(tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
