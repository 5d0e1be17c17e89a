package rastub_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/imdsd/imdsd/internal/rastub"
	"github.com/imdsd/imdsd/roles/anywhere"
)

// TestStandIn_Refuses: what the stand-in refuses beyond what AWS's helper
// can be made to send: a key type Roles Anywhere does not take, and a
// signature dated outside SigV4's five minutes of the service's clock.
func TestStandIn_Refuses(t *testing.T) {
	clock := time.Now()
	fx := rastub.NewFixture(t, rastub.Options{Now: func() time.Time { return clock }})
	ec := fx.CA.Issue(rastub.LeafOptions{Key: rastub.EC})
	ed := fx.CA.Issue(rastub.LeafOptions{Key: rastub.Ed25519})
	in := anywhere.Input{TrustAnchorARN: rastub.TrustAnchorARN, ProfileARN: rastub.ProfileARN, RoleARN: rastub.RoleARN, Duration: time.Hour}
	for name, tc := range map[string]struct {
		id      anywhere.Identity
		signAt  time.Time
		refusal string
	}{
		// Signed by an EC key, presented with an Ed25519 certificate of
		// the trust anchor's CA and its serial.
		"Ed25519 certificate":            {anywhere.Identity{Leaf: ed.Cert, Key: ec.Key}, clock, "only RSA and EC keys"},
		"signed 6 minutes ago":           {anywhere.Identity{Leaf: ec.Cert, Key: ec.Key}, clock.Add(-6 * time.Minute), "more than 5m0s from the service's clock"},
		"signed 6 minutes ahead":         {anywhere.Identity{Leaf: ec.Cert, Key: ec.Key}, clock.Add(6 * time.Minute), "more than 5m0s from the service's clock"},
		"signed 4 minutes ago, accepted": {anywhere.Identity{Leaf: ec.Cert, Key: ec.Key}, clock.Add(-4 * time.Minute), ""},
	} {
		t.Run(name, func(t *testing.T) {
			at := tc.signAt
			c := anywhere.Client{Endpoint: fx.URL, Region: rastub.Region, Now: func() time.Time { return at }}
			_, err := c.CreateSession(context.Background(), tc.id, in)
			reqs := fx.Requests()
			last := reqs[len(reqs)-1]
			if tc.refusal == "" {
				if err != nil || last.Status != 201 {
					t.Fatalf("got %v (stand-in %+v), want a session", err, last)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "AccessDeniedException") || !strings.Contains(last.Refusal, tc.refusal) {
				t.Errorf("got %v, stand-in refusal %q, want AccessDeniedException: %s", err, last.Refusal, tc.refusal)
			}
		})
	}
}
