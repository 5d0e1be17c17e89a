package roles

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
)

// ProfileValues are the values a role's shared-config profile supplies
// where the role's own definition leaves them unset, as Resolve applies
// them: the profile's region, and, for a role profile (role_arn and
// source_profile), its duration_seconds and role_session_name. imdsd
// config check shows them with where they came from (issue 16 item 8).
type ProfileValues struct {
	Region      string
	Duration    time.Duration
	SessionName string
}

// FromProfile reads the values d's profile gives d; all zero when d names
// no profile or sets them itself. It makes no network call.
func FromProfile(ctx context.Context, d Def) (ProfileValues, error) {
	if d.Profile == "" {
		return ProfileValues{}, nil
	}
	sc, err := config.LoadSharedConfigProfile(ctx, d.Profile, sharedFiles)
	if err != nil {
		return ProfileValues{}, fmt.Errorf("profile %q: %w", d.Profile, err)
	}
	var v ProfileValues
	if d.Region == "" {
		v.Region = sc.Region
	}
	if d.RoleARN == "" && sc.RoleARN != "" && sc.SourceProfileName != "" {
		if d.Duration == 0 && sc.RoleDurationSeconds != nil {
			v.Duration = *sc.RoleDurationSeconds
		}
		if d.SessionName == "" {
			v.SessionName = sc.RoleSessionName
		}
	}
	return v, nil
}
