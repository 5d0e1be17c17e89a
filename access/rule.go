package access

import (
	"context"
	"net/netip"
	"slices"
)

// None is the role name that gives no role.
const None = "none"

// Rule gives a role to the callers it matches: every condition that is
// set must hold. Grants (units:, user_roles:), the user gate (allow_uids,
// allow_groups) and clients: are all rules of this one kind; where a rule
// stands in Policy decides what its match means.
type Rule struct {
	// From names the rule for reasons and logs: "units[0]",
	// "user_roles[1]", "clients[2]", "allow_uids".
	From string
	// Role is a role name, None, or "" (the default role: for the gate).
	Role string

	// CIDR: the caller's source address is in it.
	CIDR netip.Prefix
	// UIDs: the uid owning the caller's socket is one of them.
	UIDs []int
	// GIDs: that uid is a member of one of these groups.
	GIDs []int
	// Unit: the caller's process runs in this systemd system unit.
	Unit string
	// ContainerLabel: the caller is a container whose role label is this.
	ContainerLabel string
	// Namespace: the caller is a pod in this Kubernetes namespace.
	Namespace string
	// ServiceAccount: the caller is a pod running as this service account
	// (of its namespace). A rule with Namespace or ServiceAccount matches
	// pods only.
	ServiceAccount string
}

// match reports whether every condition of r holds for c. A condition
// that needs what cannot be found is an error, not a mismatch: the caller
// is refused rather than matched by a later, broader rule.
func (r Rule) match(ctx context.Context, c *Caller, labelKey string) (bool, error) {
	if r.CIDR.IsValid() && !r.CIDR.Contains(c.Remote.Addr()) {
		return false, nil
	}
	if r.Unit != "" {
		u, err := c.Unit()
		if err != nil {
			return false, err
		}
		if u != r.Unit {
			return false, nil
		}
	}
	if len(r.UIDs) > 0 || len(r.GIDs) > 0 {
		uid, err := c.UID()
		if err != nil {
			return false, err
		}
		if !slices.Contains(r.UIDs, uid) && !slices.ContainsFunc(c.groupsOf(), func(g int) bool { return slices.Contains(r.GIDs, g) }) {
			return false, nil
		}
	}
	if r.ContainerLabel != "" {
		if !c.IsContainer() {
			return false, nil
		}
		ct, err := c.Container(ctx)
		if err != nil {
			return false, err
		}
		if v, ok := ct.Labels[labelKey]; !ok || v != r.ContainerLabel {
			return false, nil
		}
	}
	if r.Namespace != "" || r.ServiceAccount != "" {
		if !c.IsPod() {
			return false, nil
		}
		pod, err := c.Pod(ctx)
		if err != nil {
			return false, err
		}
		if (r.Namespace != "" && pod.Namespace != r.Namespace) || (r.ServiceAccount != "" && pod.ServiceAccount != r.ServiceAccount) {
			return false, nil
		}
	}
	return true, nil
}
