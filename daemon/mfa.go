package daemon

// MFA coordination: sessions opened with `imdsd mfa`, shared by the roles
// of one device, and the warning before one ends.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/imdsd/imdsd/roles"
)

// errNoMFARole is returned by mfa when no role needs MFA.
var errNoMFARole = errors.New("no configured role needs MFA (set mfa_serial, or use a profile with mfa_serial)")

// startMFA opens the MFA session of every role that needs one (or of role)
// with code, then refreshes those roles at once.
func (o *Daemon) startMFA(ctx context.Context, role, code string) (serial string, names []string, exp time.Time, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	set := o.set.Load()
	started := map[*roles.MFASession]time.Time{}
	for _, name := range set.order {
		e := set.byName[name]
		if e.mfa == nil || (role != "" && role != name) {
			continue
		}
		at, ok := started[e.mfa]
		if !ok {
			if at, err = e.mfa.Start(ctx, code); err != nil {
				// STS's answer goes back to the `imdsd mfa` client: bounded,
				// with key shapes and the role's secrets redacted.
				return "", nil, time.Time{}, roles.Sanitize(name, err, roles.SpecSecrets(ctx, e.def.Spec())...)
			}
			started[e.mfa] = at
			o.log.Info("MFA session opened", "role", name, "mfa_serial", e.mfa.Serial(), "expires", at.UTC().Format(time.RFC3339))
		}
		e.mu.Lock()
		e.mfaWarned = false
		e.mu.Unlock()
		serial, exp = e.mfa.Serial(), at
		names = append(names, name)
		if o.runCtx != nil {
			e.restart(o.runCtx)
		}
	}
	if len(names) == 0 {
		if role != "" && !set.has(role) {
			return "", nil, time.Time{}, fmt.Errorf("role %q is not configured", role)
		}
		return "", nil, time.Time{}, errNoMFARole
	}
	return serial, names, exp, nil
}

// mfaWarnBefore is how long before an MFA session ends the daemon warns.
const mfaWarnBefore = time.Hour

// watchMFA logs, once per session, when an MFA session nears its end, so
// the user enters a new code before the roles stop refreshing.
func (o *Daemon) watchMFA() {
	set := o.set.Load()
	now := o.now()
	for _, name := range set.order {
		e := set.byName[name]
		if e.mfa == nil {
			continue
		}
		exp := e.mfa.Expires()
		if exp.IsZero() {
			continue
		}
		e.mu.Lock()
		warn := !e.mfaWarned && exp.Sub(now) < mfaWarnBefore
		if warn {
			e.mfaWarned = true
		}
		e.mu.Unlock()
		if warn {
			o.log.Warn("MFA session ends soon: run 'imdsd mfa' with a new code", "role", name,
				"mfa_serial", e.mfa.Serial(), "expires", exp.UTC().Format(time.RFC3339))
			if o.opts.Notify == nil {
				continue
			}
			if err := o.opts.Notify("imdsd: MFA session ends soon",
				"Role "+name+": run 'imdsd mfa' with a new code before "+exp.Local().Format(time.Kitchen)); err != nil {
				o.log.Debug("no desktop notification", "err", err)
			}
		}
	}
}
