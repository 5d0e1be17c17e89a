package main

// Local-user rules: which local users may have credentials, and which
// role each gets, decided by the uid owning the client's socket
// (peercred). Two users on one machine can get different roles; a uid with
// no rule gets none; a caller whose uid cannot be determined is refused.
//
// Config:
//
//	allow_uids: [1000, alice]         # users (uid or name) given the default role
//	allow_groups: [developers]        # members (primary or supplementary) too
//	user_roles:                       # a role per user or group, first match wins
//	  - {user: bob, role: readonly}
//	  - {group: admins, role: admin}
//
// A user_roles role must be one of the configured roles. The rules sit in
// front of the daemon's source (filter): a caller whose rule names a role
// gets that role; an allowed caller without one gets the default role.

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/imdsd/imdsd/config"
	"github.com/imdsd/imdsd/imds"
)

// Local-user rule errors.
var (
	errUnknownUser  = errors.New("no such user")
	errUnknownGroup = errors.New("no such group")
	errUnservedRole = errors.New("is not a role this daemon serves")
)

// userDB is the part of the user database the rules need; tests fake it.
type userDB interface {
	UID(nameOrID string) (int, error)
	GID(nameOrID string) (int, error)
	Groups(uid int) ([]int, error)
}

// userRules are config.Users resolved to ids.
type userRules struct {
	allowUIDs map[int]bool
	allowGIDs map[int]bool
	byUID     map[int]string
	byGID     []gidRole // in config order
	groups    *groupCache
}

type gidRole struct {
	gid  int
	role string
}

// compile resolves names to ids (an unknown user or group is a config
// error at start, not a silent no-match) and checks that every role named
// is one of roleNames.
func compileUserRules(u config.Users, roleNames []string, db userDB) (*userRules, error) {
	r := &userRules{allowUIDs: map[int]bool{}, allowGIDs: map[int]bool{}, byUID: map[int]string{},
		groups: &groupCache{db: db, ttl: time.Minute, now: time.Now, m: map[int]groupEntry{}}}
	for _, v := range u.AllowUIDs {
		id, err := db.UID(v)
		if err != nil {
			return nil, &config.Error{Field: "allow_uids", Value: v, Err: err}
		}
		r.allowUIDs[id] = true
	}
	for _, v := range u.AllowGroups {
		id, err := db.GID(v)
		if err != nil {
			return nil, &config.Error{Field: "allow_groups", Value: v, Err: err}
		}
		r.allowGIDs[id] = true
	}
	served := map[string]bool{}
	for _, n := range roleNames {
		served[n] = true
	}
	for _, ur := range u.UserRoles {
		if !served[ur.Role] {
			return nil, &config.Error{Field: "user_roles", Value: ur.Role, Err: errUnservedRole}
		}
		if ur.User != "" {
			id, err := db.UID(ur.User)
			if err != nil {
				return nil, &config.Error{Field: "user_roles", Value: ur.User, Err: err}
			}
			if _, dup := r.byUID[id]; !dup {
				r.byUID[id] = ur.Role
			}
			continue
		}
		id, err := db.GID(ur.Group)
		if err != nil {
			return nil, &config.Error{Field: "user_roles", Value: ur.Group, Err: err}
		}
		r.byGID = append(r.byGID, gidRole{id, ur.Role})
	}
	return r, nil
}

// errNotLocal: the caller's socket is not on this host (a container in
// its own network namespace); the local-user rules do not apply to it and
// the source's client rules decide.
var errNotLocal = errors.New("caller is not a local process")

// decide returns the role the caller may use: a user rule's role, then the
// first group rule's, then "" (the default role) for an allowed uid or
// group member. A caller on this host (loopback, or from the address it
// connected to, as source.go's router tells host callers) whose uid is
// unknown is imds.ErrForbidden: refused, never guessed. A uid with no rule
// is imds.ErrNoRole. Any other caller without a uid is errNotLocal.
func (r *userRules) decide(c imds.Caller) (string, error) {
	if !c.HasUID {
		if remote := c.Remote.Addr(); remote.IsLoopback() || remote == c.Local.Addr() || !remote.IsValid() {
			return "", fmt.Errorf("%w: the uid of %s is unknown", imds.ErrForbidden, c.Remote)
		}
		return "", errNotLocal
	}
	if role, ok := r.byUID[c.UID]; ok {
		return role, nil
	}
	var gids []int
	if len(r.byGID) > 0 || len(r.allowGIDs) > 0 {
		gids = r.groups.get(c.UID)
	}
	for _, g := range r.byGID {
		if slices.Contains(gids, g.gid) {
			return g.role, nil
		}
	}
	if r.allowUIDs[c.UID] {
		return "", nil
	}
	for _, g := range gids {
		if r.allowGIDs[g] {
			return "", nil
		}
	}
	return "", imds.ErrNoRole
}

// filter puts the rules in front of a source: the caller must pass
// decide; a role decide names is served through named, any other caller
// gets what src answers (the default role).
func (r *userRules) filter(src imds.Source, named func(string) (imds.Role, bool)) imds.Source {
	return imds.SourceFunc(func(ctx context.Context, c imds.Caller) (imds.Role, error) {
		want, err := r.decide(c)
		if errors.Is(err, errNotLocal) {
			return src.Credentials(ctx, c)
		}
		if err != nil {
			return imds.Role{}, err
		}
		if want == "" {
			return src.Credentials(ctx, c)
		}
		role, ok := named(want)
		if !ok {
			return imds.Role{}, imds.ErrNoRole
		}
		return role, nil
	})
}

// groupCache remembers each uid's groups for ttl: reading the group
// database per request would put file parsing on the request path.
type groupCache struct {
	db  userDB
	ttl time.Duration
	now func() time.Time
	mu  sync.Mutex
	m   map[int]groupEntry
}

type groupEntry struct {
	gids []int
	at   time.Time
}

// maxGroupCache bounds the cache; past it, it starts again.
const maxGroupCache = 4096

func (g *groupCache) get(uid int) []int {
	now := g.now()
	g.mu.Lock()
	e, ok := g.m[uid]
	g.mu.Unlock()
	if ok && now.Sub(e.at) < g.ttl && now.Sub(e.at) >= 0 {
		return e.gids
	}
	gids, _ := g.db.Groups(uid) // a uid without an entry is in no group
	g.mu.Lock()
	if len(g.m) >= maxGroupCache {
		clear(g.m)
	}
	g.m[uid] = groupEntry{gids: gids, at: now}
	g.mu.Unlock()
	return gids
}

// systemUsers is the user database of this machine (os/user).
type systemUsers struct{}

func (systemUsers) UID(v string) (int, error) {
	if id, err := strconv.Atoi(v); err == nil && id >= 0 {
		return id, nil
	}
	u, err := user.Lookup(v)
	if err != nil {
		return 0, errUnknownUser
	}
	return strconv.Atoi(u.Uid)
}

func (systemUsers) GID(v string) (int, error) {
	if id, err := strconv.Atoi(v); err == nil && id >= 0 {
		return id, nil
	}
	g, err := user.LookupGroup(v)
	if err != nil {
		return 0, errUnknownGroup
	}
	return strconv.Atoi(g.Gid)
}

func (systemUsers) Groups(uid int) ([]int, error) {
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return nil, err
	}
	ids, err := u.GroupIds()
	if err != nil {
		ids = []string{u.Gid}
	}
	out := make([]int, 0, len(ids))
	for _, s := range ids {
		if n, err := strconv.Atoi(s); err == nil {
			out = append(out, n)
		}
	}
	return out, nil
}
