package testutil_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imdsd/imdsd/internal/testutil"
)

func TestWaitFor(t *testing.T) {
	tests := map[string]struct {
		cond     func() func() bool
		wantFail bool
	}{
		"already true": {cond: func() func() bool { return func() bool { return true } }},
		"true on another goroutine": {cond: func() func() bool {
			var done atomic.Bool
			go done.Store(true)
			return done.Load
		}},
		"true after some polls": {cond: func() func() bool {
			var n atomic.Int64
			return func() bool { return n.Add(1) > 3 }
		}},
		"never": {cond: func() func() bool { return func() bool { return false } }, wantFail: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{TB: t}
			timeout := 10 * time.Second
			if tc.wantFail {
				timeout = 5 * time.Millisecond
			}
			testutil.WaitFor(rec, timeout, tc.cond(), "the "+name+" condition")
			msg := rec.message()
			if tc.wantFail != (msg != "") {
				t.Fatalf("failed = %q, want failure %v", msg, tc.wantFail)
			}
			if tc.wantFail && !strings.Contains(msg, "the never condition") {
				t.Errorf("failure message %q does not name what was awaited", msg)
			}
		})
	}
}
