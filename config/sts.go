package config

import (
	"errors"
	"strconv"
)

// STS bounds the daemon's calls to STS across every role: the role
// scheduler's limits (roles.Scheduler). Zero takes the default.
type STS struct {
	// MaxInFlight is the most credential fetches running at once.
	MaxInFlight int
	// Rate is the most fetches started per second; a throttling answer
	// from STS lowers it for a while.
	Rate int
}

// ErrBadSTSLimit is a negative sts_max_in_flight or sts_rate.
var ErrBadSTSLimit = errors.New("must be 0 (the default) or more")

func (s STS) validate(bad func(name, value string, err error) error) error {
	if s.MaxInFlight < 0 {
		return bad("sts_max_in_flight", strconv.Itoa(s.MaxInFlight), ErrBadSTSLimit)
	}
	if s.Rate < 0 {
		return bad("sts_rate", strconv.Itoa(s.Rate), ErrBadSTSLimit)
	}
	return nil
}
