package roles

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// SourceConfigs shares the SDK config of each source of credentials (a
// profile, or the default chain, in a region) among the roles resolved
// with it: loading one costs milliseconds and hundreds of KB (the shared
// files, and AWS_CA_BUNDLE parsed into an HTTP client of its own), so a
// config of thousands of roles that each loaded their own took seconds
// and gigabytes (issue 19). The roles that share a source then share its
// HTTP client and its source-credentials cache too. Use one per
// resolution of a set of roles (a start, a reload, a config check) so
// that the next one reads the files again. A nil *SourceConfigs loads
// each time. It is safe for concurrent use.
type SourceConfigs struct {
	mu sync.Mutex
	m  map[sourceKey]sourceConfig
	// loads counts the configs loaded, for tests.
	loads int
}

type sourceKey struct{ profile, region string }

type sourceConfig struct {
	cfg aws.Config
	err error
}

// NewSourceConfigs returns an empty SourceConfigs.
func NewSourceConfigs() *SourceConfigs {
	return &SourceConfigs{m: make(map[sourceKey]sourceConfig)}
}

// load returns the SDK config of profile ("" for the default chain) in
// region, loaded once per SourceConfigs; a failure is remembered too, as
// the same files give the same error.
func (s *SourceConfigs) load(ctx context.Context, profile, region string) (aws.Config, error) {
	if s == nil {
		return loadConfig(ctx, profile, region, nil)
	}
	k := sourceKey{profile, region}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.m[k]; ok {
		return c.cfg, c.err
	}
	cfg, err := loadConfig(ctx, profile, region, nil)
	s.loads++
	s.m[k] = sourceConfig{cfg: cfg, err: err}
	return cfg, err
}
