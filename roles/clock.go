package roles

import "time"

// Clock is the refresher's view of time. Tests use a fake one instead of
// sleeping.
type Clock interface {
	// Now returns the current time. Expiries from STS are wall-clock times,
	// so they are compared with Now.
	Now() time.Time
	// After returns a channel that receives after d has passed.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
