package config

import (
	"errors"
	"strconv"
	"time"
)

// STS bounds the daemon's calls to STS across every role: the role
// scheduler's limits (roles.Scheduler). Zero takes the default.
type STS struct {
	// MaxInFlight is the most credential fetches running at once.
	MaxInFlight int
	// Rate is the most fetches started per second; a throttling answer
	// from STS lowers it for a while.
	Rate int
	// IdleAfter stops refreshing a role no client asked for in that long
	// (not the default role); its next request waits one STS round trip.
	// Zero is off.
	IdleAfter time.Duration
}

// ErrBadSTSLimit is a negative sts_max_in_flight or sts_rate.
var ErrBadSTSLimit = errors.New("must be 0 (the default) or more")

func (s STS) validate(bad func(name, value string, err error) error) error {
	if s.MaxInFlight < 0 {
		return bad("sts_max_in_flight", strconv.Itoa(s.MaxInFlight), ErrBadSTSLimit)
	}
	if s.IdleAfter < 0 {
		return bad("idle_after", s.IdleAfter.String(), ErrBadSTSLimit)
	}
	if s.Rate < 0 {
		return bad("sts_rate", strconv.Itoa(s.Rate), ErrBadSTSLimit)
	}
	return nil
}
