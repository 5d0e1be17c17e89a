package doctor

import (
	"github.com/imdsd/imdsd/roles"
)

// fixFor says what to do about a role without credentials, by the kind of
// its last failure as status reports it (roles.Classify), never by its
// text.
func (d *doctor) fixFor(role string) string {
	kind := ""
	if d.status != nil {
		for _, r := range d.status.Roles {
			if r.Name == role || r.ARN != "" && roles.RoleName(r.ARN) == role {
				kind = r.ErrorKind
			}
		}
	}
	return fixForKind(roles.ErrorKind(kind))
}

// fixForKind is the advice for one kind of failure.
func fixForKind(kind roles.ErrorKind) string {
	switch kind {
	case roles.KindNeedsMFA:
		return "run 'imdsd mfa' with a code from the MFA device"
	case roles.KindNoSource:
		return "give the daemon source credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile (--profile / profile:), or run 'aws sso login' for an SSO profile"
	case roles.KindInvalidSource:
		return "the source credentials are wrong or deleted: create new access keys and update the profile the daemon reads"
	case roles.KindExpiredSource:
		return "the source credentials expired: run 'aws sso login' (SSO) or refresh the source profile's session"
	case roles.KindExpiredCertificate:
		return "the Roles Anywhere certificate expired or is not valid yet: renew the certificate and key files (the daemon reads them again at its next refresh, no restart)"
	case roles.KindUntrustedCertificate:
		return "IAM Roles Anywhere does not trust the certificate: issue it from the trust anchor's CA, and give intermediates in certificate_chain"
	case roles.KindAccessDenied:
		return "the source may not assume the role: check the role's trust policy and the source's sts:AssumeRole permission ('imdsd status' shows the denial)"
	case roles.KindThrottled:
		return "STS throttles this account: the daemon backs off and retries; fewer roles or a longer duration means fewer calls"
	case roles.KindWebIdentityToken:
		return "the web identity token is missing, empty, expired or refused: check web_identity_token_file (or _command, or the job's id-token permission on GitHub) and the role's trust policy for the token's issuer, audience and subject ('imdsd status' says which)"
	case roles.KindNetwork:
		return "STS cannot be reached: check the network, the proxy (HTTPS_PROXY) and sts_endpoint"
	}
	return "'imdsd status' shows the role's state; 'imdsd mfa' if it needs MFA; check the source credentials and the role's trust policy"
}
