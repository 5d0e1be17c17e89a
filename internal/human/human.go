// Package human formats values for people: the status table and doctor's
// findings share one way to write a duration.
package human

import (
	"fmt"
	"time"
)

// Span formats a duration for people: 1h02m, 4m10s, 12s.
func Span(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}
