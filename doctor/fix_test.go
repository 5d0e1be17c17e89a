package doctor

import (
	"strings"
	"testing"

	"github.com/imdsd/imdsd/control"
	"github.com/imdsd/imdsd/roles"
)

// TestDoctor_FixByKind: the advice for a role without credentials follows
// the kind status reports, not the error's text.
func TestDoctor_FixByKind(t *testing.T) {
	for kind, want := range map[roles.ErrorKind]string{
		roles.KindNeedsMFA:         "imdsd mfa",
		roles.KindNoSource:         "aws sso login",
		roles.KindInvalidSource:    "new access keys",
		roles.KindExpiredSource:    "expired",
		roles.KindAccessDenied:     "trust policy",
		roles.KindThrottled:        "throttles",
		roles.KindNetwork:          "HTTPS_PROXY",
		roles.KindWebIdentityToken: "web_identity_token_file",
	} {
		d := &doctor{status: &control.Status{Roles: []control.RoleStatus{
			{Name: "other", ErrorKind: string(roles.KindNetwork)},
			{Name: "dev", ARN: "arn:aws:iam::123456789012:role/dev-role", ErrorKind: string(kind)},
		}}}
		for _, name := range []string{"dev", "dev-role"} {
			r := d.judgeCredentials(name, `{"Code":"AssumeRoleUnauthorizedAccess","Message":"x"}`)
			if r.ok || !strings.Contains(r.fix, want) {
				t.Errorf("kind %s, role %s: fix %q, want it to say %q", kind, name, r.fix, want)
			}
		}
	}
}
