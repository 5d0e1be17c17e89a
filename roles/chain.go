package roles

// Role chaining (issue 18): a role whose source is another role of the
// daemon (source_role). The daemon resolves the roles in ChainOrder and
// hands each chained role its source's credentials as Spec.SourceCredentials.

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// ChainedMaxDuration is the longest session AWS gives a role assumed with
// another role's credentials.
const ChainedMaxDuration = time.Hour

// Chaining errors, matched with errors.Is.
var (
	ErrUnknownSourceRole = errors.New("names no role of this config")
	ErrSourceRoleCycle   = errors.New("roles source each other in a cycle")
	ErrSourceRoleSelf    = errors.New("a role cannot be its own source")
	ErrNoSourceProvider  = errors.New("chained role resolved without its source role's credentials")
)

// SourceRoleKey names the source_role key of the role called name ("" for
// the flat role), as errors name it.
func SourceRoleKey(name string) string {
	if name == "" {
		return "source_role"
	}
	return "roles." + name + ".source_role"
}

// DefName is the name a Def is known by among the daemon's roles: its
// config name, or for the flat role the name of its ARN.
func DefName(d Def) string { return cmp.Or(d.Name, RoleName(d.RoleARN)) }

// ChainOrder returns the indexes of defs ordered so that every role comes
// after its source_role, otherwise in config order. It refuses a
// source_role that names no role, the role itself, or a cycle, with an
// error naming the key.
func ChainOrder(defs []Def) ([]int, error) {
	index := map[string]int{}
	for i, d := range defs {
		index[DefName(d)] = i
	}
	state := make([]int, len(defs)) // 0 new, 1 on the path, 2 done
	order := make([]int, 0, len(defs))
	var visit func(i int) error
	visit = func(i int) error {
		switch state[i] {
		case 1:
			return &KeyError{Key: SourceRoleKey(defs[i].Name), Value: defs[i].SourceRole, Err: ErrSourceRoleCycle}
		case 2:
			return nil
		}
		state[i] = 1
		if src := defs[i].SourceRole; src != "" {
			j, ok := index[src]
			switch {
			case !ok:
				return &KeyError{Key: SourceRoleKey(defs[i].Name), Value: src, Err: ErrUnknownSourceRole}
			case j == i:
				return &KeyError{Key: SourceRoleKey(defs[i].Name), Value: src, Err: ErrSourceRoleSelf}
			}
			if err := visit(j); err != nil {
				return err
			}
		}
		state[i] = 2
		order = append(order, i)
		return nil
	}
	for i := range defs {
		if err := visit(i); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// ChainedDuration returns the duration a chained role asks for: d, or
// DefaultDuration when zero, at most ChainedMaxDuration; clamped tells
// that d was over it.
func ChainedDuration(d time.Duration) (_ time.Duration, clamped bool) {
	d = cmp.Or(d, DefaultDuration)
	if d > ChainedMaxDuration {
		return ChainedMaxDuration, true
	}
	return d, false
}

// resolveChained builds the Fetcher of a role assumed with its source
// role's credentials.
func resolveChained(spec Spec, region string) (Resolved, error) {
	if err := ValidateARN(spec.RoleARN); err != nil {
		return Resolved{}, err
	}
	if spec.SourceCredentials == nil {
		return Resolved{}, fmt.Errorf("%s %q: %w", SourceRoleKey(spec.Name), spec.SourceRole, ErrNoSourceProvider)
	}
	var warnings []string
	if d, clamped := ChainedDuration(spec.Duration); clamped {
		warnings = append(warnings, fmt.Sprintf("duration %s is over the %s AWS allows a chained role (source_role %s): asking for %s", spec.Duration, ChainedMaxDuration, spec.SourceRole, d))
		spec.Duration = d
	}
	region = cmp.Or(region, FallbackRegion)
	client := sts.New(sts.Options{
		Region:           region,
		Credentials:      spec.SourceCredentials,
		RetryMaxAttempts: 2,
		BaseEndpoint:     endpointOf(spec.STSEndpoint),
	})
	return Resolved{
		Name:      RoleName(spec.RoleARN),
		ARN:       spec.RoleARN,
		AccountID: AccountID(spec.RoleARN),
		Region:    region,
		Source:    "role " + spec.SourceRole,
		Fetcher:   assumeFetcher(client, spec, ""),
		Warnings:  warnings,
	}, nil
}
