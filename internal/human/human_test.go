package human

import (
	"testing"
	"time"
)

func TestSpan(t *testing.T) {
	for d, want := range map[time.Duration]string{
		12 * time.Second:                      "12s",
		4*time.Minute + 10*time.Second:        "4m10s",
		time.Hour + 2*time.Minute + 29e9:      "1h02m",
		50*time.Minute + 400*time.Millisecond: "50m00s",
		0:                                     "0s",
	} {
		if got := Span(d); got != want {
			t.Errorf("Span(%s) = %q, want %q", d, got, want)
		}
	}
}
