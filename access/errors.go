package access

import "errors"

// Refusals. Each decision error wraps one of them.
var (
	// ErrNoRole: the caller may use no role.
	ErrNoRole = errors.New("no role for this client")
	// ErrUnidentified: rules apply to a local process whose uid or unit
	// cannot be found: it is refused, never guessed.
	ErrUnidentified = errors.New("client cannot be identified")
	// ErrNotYetIdentified: a container whose identity cannot be
	// established now (its engine away, its address not listed yet); the
	// caller may retry.
	ErrNotYetIdentified = errors.New("container not identified")
)
