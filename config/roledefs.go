package config

import (
	"cmp"

	"github.com/imdsd/imdsd/roles"
)

// RoleDefs lists the roles c defines, the configured default first: the
// flat role when its keys name one (or when there is no roles:), then each
// of roles: in file order. What a named role does not say (region, STS
// endpoint, session name, duration, min_remaining) it takes from the flat
// keys; MFA stays the flat role's.
func (c Config) RoleDefs() []roles.Def {
	defs := make([]roles.Def, 0, len(c.Roles)+1)
	if c.Role.RoleARN != "" || c.Role.Profile != "" || len(c.Roles) == 0 {
		flat := c.Role
		flat.Name = ""
		defs = append(defs, flat)
	}
	for _, r := range c.Roles {
		d := r.Def
		if d.TrustAnchorARN == "" { // a Roles Anywhere role is in its trust anchor's region
			d.Region = cmp.Or(d.Region, c.Role.Region)
		}
		d.STSEndpoint = cmp.Or(d.STSEndpoint, c.Role.STSEndpoint)
		d.SessionName = cmp.Or(d.SessionName, c.Role.SessionName)
		d.Duration = cmp.Or(d.Duration, c.Role.Duration)
		d.MinRemaining = c.Role.MinRemaining
		d.MFASerial, d.MFADuration = "", 0
		defs = append(defs, d)
	}
	return defs
}
