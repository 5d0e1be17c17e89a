package daemon

// Chained roles (source_role): the source role's refresher is the chained
// role's source of credentials.

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/imdsd/imdsd/roles"
)

// credentialsProvider hands out e's served credentials, waiting for its
// first fetch when there has been none, so a chained role started with
// its source does not fail its first fetch.
func (e *roleEntry) credentialsProvider() aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
		select {
		case <-e.refresher.Fetched():
		case <-ctx.Done():
			return aws.Credentials{}, ctx.Err()
		}
		return e.refresher.Credentials()
	})
}

// minRemaining is the least lifetime def's credentials are served with.
// A chained role's sessions last at most an hour: a min_remaining set for
// a longer duration would refresh it at every pass, so it gets the
// default instead (which the hour leaves room for).
func minRemaining(def roles.Def) time.Duration {
	if def.SourceRole != "" && def.MinRemaining > roles.ChainedMaxDuration-5*time.Minute {
		return roles.DefaultMinRemaining
	}
	return def.MinRemaining
}
