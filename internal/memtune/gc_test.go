package memtune

import (
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	for _, tc := range []struct {
		name, gogc string
		want       int // the percent set; -1 for none
	}{
		{"GOGC unset", "", gcPercent},
		{"GOGC set by the user", "50", -1},
		{"GOGC off", "off", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := -1
			got := tuneGC(func(k string) string {
				if k != "GOGC" {
					t.Errorf("looked up %q, want GOGC", k)
				}
				return tc.gogc
			}, func(p int) int { set = p; return 100 })
			if got != tc.want || set != tc.want {
				t.Fatalf("tuneGC with GOGC=%q: returned %d, set %d; want %d", tc.gogc, got, set, tc.want)
			}
		})
	}
}

// TestTuneGCFromEnv: the real setter changes the runtime's percent (and
// the test puts it back).
func TestTuneGCFromEnv(t *testing.T) {
	t.Setenv("GOGC", "")
	if got := TuneGCFromEnv(); got != gcPercent {
		t.Fatalf("TuneGCFromEnv() = %d, want %d", got, gcPercent)
	}
	if prev := debug.SetGCPercent(100); prev != gcPercent {
		t.Fatalf("runtime GC percent = %d after tuneGCFromEnv, want %d", prev, gcPercent)
	}
}
