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
	// Per-pod tags only where the session is the pod's own: an
	// annotation's session name shares one among pods.
	d.Tags = podTags(k, pod, k.SessionPerPod && g.SessionName == "")
	switch {
	case g.SessionName != "":
		d.SessionName = sessionName(g.SessionName, "")
	case k.SessionPerPod:
		d.SessionName = podSessionName(pod)
	}
	return d
}

// Session tags of a pod's session (kubernetes.session_tags), named as EKS
// Pod Identity names them, so that CloudTrail and ABAC policies
// (aws:PrincipalTag/kubernetes-namespace) see which pod acted.
const (
	tagNamespace      = "kubernetes-namespace"
	tagServiceAccount = "kubernetes-service-account"
	tagPodName        = "kubernetes-pod-name"
	tagPodUID         = "kubernetes-pod-uid"
	tagNode           = "kubernetes-node-name"
)

// podTags are the session tags of pod: namespace, service account and
// node always; its name and uid only when the session is the pod's own
// (perPod), since tags are part of the session's identity (roles.Def) and
// would otherwise split a shared session into one per pod.
func podTags(k config.Kubernetes, pod access.Pod, perPod bool) roles.Tags {
	if !k.SessionTags {
		return ""
	}
	m := map[string]string{tagNamespace: pod.Namespace, tagServiceAccount: pod.ServiceAccount, tagNode: pod.Node}
	if perPod {
		m[tagPodName], m[tagPodUID] = pod.Name, pod.UID
	}
	for key, v := range m {
		if v == "" {
			delete(m, key) // STS refuses an empty tag value
		}
	}
	return roles.NewTags(m)
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
