package daemon

import (
	"testing"
	"time"

	"github.com/imdsd/imdsd/roles"
)

// TestMinRemaining_Chained: a chained role's sessions last an hour at
// most, so a min_remaining meant for a longer duration (which would
// refresh at every pass) gives way to the default; other roles keep theirs.
func TestMinRemaining_Chained(t *testing.T) {
	for _, tc := range []struct {
		def  roles.Def
		want time.Duration
	}{
		{roles.Def{MinRemaining: 90 * time.Minute}, 90 * time.Minute},
		{roles.Def{SourceRole: "a", MinRemaining: 90 * time.Minute}, roles.DefaultMinRemaining},
		{roles.Def{SourceRole: "a", MinRemaining: 40 * time.Minute}, 40 * time.Minute},
		{roles.Def{SourceRole: "a"}, 0},
	} {
		if got := minRemaining(tc.def); got != tc.want {
			t.Errorf("minRemaining(%+v) = %s, want %s", tc.def, got, tc.want)
		}
	}
}
