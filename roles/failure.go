package roles

import (
	"context"
	"fmt"
	"regexp"
	"time"
)

// FetchTimeoutError is a fetch that FetchTimeout cut off. Its message
// names the limit; it matches context.DeadlineExceeded with errors.Is, so
// Classify reports KindNetwork and ErrorCode "Timeout" (or STS's code, if
// STS answered one in time).
type FetchTimeoutError struct {
	// Limit is the FetchTimeout in force.
	Limit time.Duration
	// Err is what the Fetcher returned.
	Err error
}

// Error says that STS did not answer within the limit, and why.
func (e *FetchTimeoutError) Error() string {
	return fmt.Sprintf("STS did not answer within %s: %v", e.Limit, e.Err)
}

// Unwrap returns the Fetcher's error and context.DeadlineExceeded, which
// the Fetcher's error may have dropped.
func (e *FetchTimeoutError) Unwrap() []error { return []error{e.Err, context.DeadlineExceeded} }

// requestID matches the request IDs the SDK puts in an error's text
// ("RequestID: 6b7f…,"); they differ on every call.
var requestID = regexp.MustCompile(`RequestI[Dd]: ?[^ ,]*,? ?`)

// failureKey tells refresh failures apart for logging: "each distinct
// failure is logged once" (issue 16). Two failures are the same when their
// kind and AWS code are, whatever their text: STS puts a new RequestID in
// every error, so comparing texts logged InvalidClientTokenId as ERROR at
// every retry. Only for a failure with neither a kind nor a code (KindOther,
// "Other") is the text, less any request ID, all there is to compare.
func failureKey(err error, kind ErrorKind, code string) string {
	key := string(kind) + "/" + code
	if code == "Other" && (kind == KindOther || kind == KindWebIdentityToken) {
		key += "/" + requestID.ReplaceAllString(err.Error(), "")
	}
	return key
}
