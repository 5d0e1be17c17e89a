package access

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
)

// Spec is the policy as the config states it, before names are resolved.
type Spec struct {
	Units       []UnitGrant
	UserRoles   []UserGrant
	AllowUIDs   []string // uids or user names
	AllowGroups []string // gids or group names
	Clients     []Rule   // clients:, already rules
	LabelKey    string
	// ContainerDefault is containers.default_role.
	ContainerDefault string
	// Pods are the pod step's settings (kubernetes:); PodRefused learns of
	// pods refused their annotation's role.
	Pods       PodRules
	PodRefused func(p Pod, reason, message string)
	Logger     *slog.Logger
}

// UnitGrant gives Role to the processes of a systemd system unit (units:).
type UnitGrant struct {
	Unit string
	Role string
}

// UserGrant gives Role to a user or to a group's members (user_roles:).
type UserGrant struct {
	User  string
	Group string
	Role  string
}

// Compile errors.
var (
	ErrUnknownUser  = errors.New("no such user")
	ErrUnknownGroup = errors.New("no such group")
	ErrUnservedRole = errors.New("is not a role this daemon serves")
)

// KeyError names the config key whose value Compile could not use.
type KeyError struct {
	Key   string
	Value string
	Err   error
}

func (e *KeyError) Error() string { return e.Key + " " + strconv.Quote(e.Value) + ": " + e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

// Compile resolves user and group names to ids (an unknown one is an error
// at start, not a silent no-match) and checks that every role a grant
// names is one of served. A user's own user_roles entry comes before any
// group's, whatever their order in the file.
func Compile(s Spec, served []string, db UserDB) (*Policy, error) {
	p := &Policy{Clients: s.Clients, LabelKey: s.LabelKey, ContainerDefault: s.ContainerDefault,
		Pods: s.Pods, PodRefused: s.PodRefused, Logger: s.Logger}
	check := func(key, role string) error {
		if !slices.Contains(served, role) {
			return &KeyError{Key: key, Value: role, Err: ErrUnservedRole}
		}
		return nil
	}
	if d := s.Pods.Default; d != "" && d != None {
		if err := check("kubernetes.default_role", d); err != nil {
			return nil, err
		}
	}
	for i, u := range s.Units {
		from := fmt.Sprintf("units[%d]", i)
		if err := check(from, u.Role); err != nil {
			return nil, err
		}
		p.Grants = append(p.Grants, Rule{From: from, Unit: u.Unit, Role: u.Role})
	}
	var byGroup []Rule
	for i, ur := range s.UserRoles {
		from := fmt.Sprintf("user_roles[%d]", i)
		if err := check("user_roles", ur.Role); err != nil {
			return nil, err
		}
		if ur.User != "" {
			id, err := db.UID(ur.User)
			if err != nil {
				return nil, &KeyError{Key: "user_roles", Value: ur.User, Err: err}
			}
			p.Grants = append(p.Grants, Rule{From: from, UIDs: []int{id}, Role: ur.Role})
			continue
		}
		id, err := db.GID(ur.Group)
		if err != nil {
			return nil, &KeyError{Key: "user_roles", Value: ur.Group, Err: err}
		}
		byGroup = append(byGroup, Rule{From: from, GIDs: []int{id}, Role: ur.Role})
	}
	p.Grants = append(p.Grants, byGroup...)
	if len(s.AllowUIDs)+len(s.AllowGroups)+len(s.UserRoles) > 0 {
		p.Gated = true
		allow := Rule{From: "allow_uids"}
		for _, v := range s.AllowUIDs {
			id, err := db.UID(v)
			if err != nil {
				return nil, &KeyError{Key: "allow_uids", Value: v, Err: err}
			}
			allow.UIDs = append(allow.UIDs, id)
		}
		groups := Rule{From: "allow_groups"}
		for _, v := range s.AllowGroups {
			id, err := db.GID(v)
			if err != nil {
				return nil, &KeyError{Key: "allow_groups", Value: v, Err: err}
			}
			groups.GIDs = append(groups.GIDs, id)
		}
		// With user_roles alone, the gate lets nobody else through: a uid
		// with no rule gets no role. A rule with no ids would match any
		// caller, so only lists that are set stand in the gate.
		if len(allow.UIDs) > 0 {
			p.Allow = append(p.Allow, allow)
		}
		if len(groups.GIDs) > 0 {
			p.Allow = append(p.Allow, groups)
		}
	}
	return p, nil
}
