package daemon

// The roles.Def of a pod's role by ARN: the node's source credentials,
// the annotation's parameters, and a session name that names the pod.

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/imdsd/imdsd/access"
	"github.com/imdsd/imdsd/config"
	"github.com/imdsd/imdsd/roles"
)

// maxSessionName is STS's bound on RoleSessionName; its charset is
// [\w+=,.@-].
const maxSessionName = 64

// podDef is the role a pod's grant names. Pods whose defs are equal share
// one session: with session_per_pod off, every pod of a role with the same
// external ID and session-name annotation does.
func podDef(cfg *config.Config, g access.Grant, pod access.Pod) roles.Def {
	k := cfg.Kubernetes
	d := roles.Def{RoleARN: g.Role, ExternalID: g.ExternalID, MinRemaining: roles.DefaultMinRemaining,
		Profile: k.Profile, Region: k.Region, STSEndpoint: k.STSEndpoint}
	if k.SourceRole != "" {
		for _, r := range cfg.Roles {
			if r.Def.Name == k.SourceRole {
				d.Profile, d.Region, d.STSEndpoint = r.Def.Profile, r.Def.Region, r.Def.STSEndpoint
			}
		}
	}
	if d.Region == "" {
		d.Region = cfg.Role.Region
	}
	switch {
	case g.SessionName != "":
		d.SessionName = sessionName(g.SessionName, "")
	case k.SessionPerPod:
		d.SessionName = podSessionName(pod)
	}
	return d
}

// podSessionName names a pod in its role session: NAMESPACE.POD, so that
// CloudTrail shows which pod acted. Characters STS refuses become '-';
// a name longer than 64 keeps its first 55 and a hash of the whole.
func podSessionName(p access.Pod) string {
	return sessionName(p.Namespace+"."+p.Name, p.Namespace+"/"+p.Name+"/"+p.UID)
}

// sessionName makes s a valid RoleSessionName (2 to 64 of [\w+=,.@-]);
// when it must be cut, the hash of whole (s when "") keeps it distinct.
func sessionName(s, whole string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("_+=,.@-", r):
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := b.String()
	if len(out) > maxSessionName {
		if whole == "" {
			whole = s
		}
		sum := sha256.Sum256([]byte(whole))
		out = out[:maxSessionName-9] + "-" + hex.EncodeToString(sum[:4])
	}
	for len(out) < 2 {
		out += "-"
	}
	return out
}
