package main

import (
	"time"

	"github.com/imdsd/imdsd/roles"
)

// namedRoleDefs lists the roles of roles:, in file order. Each has its own
// STS session and refresher; what the flat keys do not say for it (region,
// STS endpoint, session name, duration, MFA) it takes from them.
func namedRoleDefs(cfg Config) []roleDef {
	defs := make([]roleDef, 0, len(cfg.Roles))
	for _, r := range cfg.Roles {
		defs = append(defs, roleDef{
			Name: r.Name,
			Spec: roles.Spec{
				RoleARN:     r.RoleARN,
				Profile:     r.Profile,
				Region:      first(r.Region, cfg.Region),
				STSEndpoint: first(r.STSEndpoint, cfg.STSEndpoint),
				SessionName: first(r.SessionName, cfg.SessionName),
				Duration:    firstDur(r.Duration, cfg.Duration),
				ExternalID:  r.ExternalID,
			},
			MinRemaining: cfg.MinRemaining,
		})
	}
	return defs
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func firstDur(a, b time.Duration) time.Duration {
	if a != 0 {
		return a
	}
	return b
}
