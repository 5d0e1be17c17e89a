package roles

import (
	"context"
	"os"
	"testing"
)

// TestSourceConfigs_LoadOncePerSource: roles resolved together load the
// SDK config once per source profile and region, not once per role.
func TestSourceConfigs_LoadOncePerSource(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	src := NewSourceConfigs()
	ctx := context.Background()
	for _, c := range []struct {
		arn, region string
		loads       int
	}{
		{"arn:aws:iam::123456789012:role/a", "us-east-1", 1},
		{"arn:aws:iam::123456789012:role/b", "us-east-1", 1},
		{"arn:aws:iam::123456789012:role/c", "eu-west-1", 2},
		{"arn:aws:iam::123456789012:role/d", "eu-west-1", 2},
	} {
		r, err := Resolve(ctx, Spec{Def: Def{RoleARN: c.arn, Region: c.region}, Sources: src})
		if err != nil {
			t.Fatalf("resolve %s: %v", c.arn, err)
		}
		if r.Region != c.region || r.ARN != c.arn {
			t.Errorf("resolve %s: got region %q ARN %q", c.arn, r.Region, r.ARN)
		}
		if src.loads != c.loads {
			t.Errorf("after %s: %d loads, want %d", c.arn, src.loads, c.loads)
		}
	}
}
