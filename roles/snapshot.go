package roles

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Snapshot is what a Refresher has at one instant. Every field comes from
// one atomic load of its state, so the credentials, their obtained time,
// the counters and the last failure belong together: a refresh that lands
// while a caller reads cannot pair one set's keys with another's time, or
// a success with the failure it replaced.
type Snapshot struct {
	// Credentials are the credentials to serve now, by the rules of
	// CredentialsObtained; zero when Err is set.
	Credentials aws.Credentials
	// Obtained is when Credentials were obtained; zero when Err is set.
	Obtained time.Time
	// Err is why nothing may be served now, nil when Credentials may be:
	// ErrNotReady before the first fetch, the first fetch's failure, or
	// an error that the last good set is too close to expiry (wrapping
	// LastError when refreshes fail).
	Err error
	// Refreshing reports that Credentials are served but have less than
	// MinRemaining left, so the loop has been asked to refresh.
	Refreshing bool

	// LastError is the last refresh failure; nil before the first fetch
	// and after a success. It may be set while Credentials are still
	// served from the last good set.
	LastError error
	// LastErrorKind is Classify of the failure as the Fetcher returned it (LastError is its sanitized form): KindNone when LastError is nil.
	LastErrorKind ErrorKind
	// LastErrorCode is ErrorCode(LastError): "" when LastError is nil.
	LastErrorCode string

	// Fetches counts calls to the Fetcher; Failures those that failed.
	// A fetch refused for want of an MFA code (KindNeedsMFA) calls no
	// STS and counts in neither.
	Fetches  int64
	Failures int64
	// LastRefresh is when the last good set was obtained; zero if none.
	LastRefresh time.Time
	// NextRefresh is when the loop plans to fetch next; zero before the
	// first fetch has finished.
	NextRefresh time.Time

	// At is the refresher's clock at the read: the time the serving rules
	// were applied at, for callers that show the time left.
	At time.Time
}

// Snapshot returns the credentials to serve now with everything status
// and metrics show about them, from one state. Like Credentials, it never
// calls STS, and it asks the loop to refresh when the set is under
// MinRemaining.
func (r *Refresher) Snapshot() Snapshot {
	s := r.state.Load()
	now := r.opts.Clock.Now()
	v := r.serve(s, now)
	return Snapshot{
		Credentials:   v.creds,
		Obtained:      v.obtained,
		Err:           v.err,
		Refreshing:    v.refreshing,
		LastError:     s.lastErr,
		LastErrorKind: s.lastKind,
		LastErrorCode: s.lastCode,
		Fetches:       s.fetches,
		Failures:      s.failures,
		LastRefresh:   s.lastRefresh,
		NextRefresh:   s.nextRefresh,
		At:            now,
	}
}

// served is what serve decided for one state at one instant.
type served struct {
	creds      aws.Credentials
	obtained   time.Time
	err        error
	refreshing bool
}

// serve applies the serving rules to s at now: the set is served while it
// has MinRemaining left; under that the loop is asked to refresh, and the
// set is still served while it has GraceRemaining left; never after.
func (r *Refresher) serve(s *state, now time.Time) served {
	if !s.have {
		if s.lastErr != nil {
			return served{err: s.lastErr}
		}
		return served{err: ErrNotReady}
	}
	left := s.creds.Expires.Sub(now)
	if left >= r.opts.MinRemaining {
		return served{creds: s.creds, obtained: s.obtained}
	}
	r.poke()
	if left >= r.opts.GraceRemaining {
		return served{creds: s.creds, obtained: s.obtained, refreshing: true}
	}
	if s.lastErr != nil {
		return served{err: fmt.Errorf("credentials expire in %s and cannot be refreshed: %w", left.Round(time.Second), s.lastErr)}
	}
	return served{err: fmt.Errorf("credentials expire in %s; refreshing", left.Round(time.Second))}
}
