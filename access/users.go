package access

import (
	"os/user"
	"strconv"
	"sync"
	"time"
)

// UserDB is the part of the user database the rules need; tests fake it.
type UserDB interface {
	UID(nameOrID string) (int, error)
	GID(nameOrID string) (int, error)
	Groups(uid int) ([]int, error)
}

// SystemUsers is the user database of this machine (os/user).
type SystemUsers struct{}

// UID returns the uid of a user name, or the number given.
func (SystemUsers) UID(v string) (int, error) {
	if id, err := strconv.Atoi(v); err == nil && id >= 0 {
		return id, nil
	}
	u, err := user.Lookup(v)
	if err != nil {
		return 0, ErrUnknownUser
	}
	return strconv.Atoi(u.Uid)
}

// GID returns the gid of a group name, or the number given.
func (SystemUsers) GID(v string) (int, error) {
	if id, err := strconv.Atoi(v); err == nil && id >= 0 {
		return id, nil
	}
	g, err := user.LookupGroup(v)
	if err != nil {
		return 0, ErrUnknownGroup
	}
	return strconv.Atoi(g.Gid)
}

// Groups returns the groups of uid: primary and supplementary.
func (SystemUsers) Groups(uid int) ([]int, error) {
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

// GroupCache remembers each uid's groups for a while: reading the group
// database per request would put file parsing on the request path.
type GroupCache struct {
	DB  UserDB
	TTL time.Duration
	Now func() time.Time

	mu sync.Mutex
	m  map[int]groupEntry
}

type groupEntry struct {
	gids []int
	at   time.Time
}

// maxGroupCache bounds the cache; past it, it starts again.
const maxGroupCache = 4096

// Groups returns uid's groups, from the cache while fresh.
func (g *GroupCache) Groups(uid int) []int {
	now := g.Now()
	g.mu.Lock()
	e, ok := g.m[uid]
	g.mu.Unlock()
	if ok && now.Sub(e.at) < g.TTL && now.Sub(e.at) >= 0 {
		return e.gids
	}
	gids, _ := g.DB.Groups(uid) // a uid without an entry is in no group
	g.mu.Lock()
	if g.m == nil || len(g.m) >= maxGroupCache {
		g.m = map[int]groupEntry{}
	}
	g.m[uid] = groupEntry{gids: gids, at: now}
	g.mu.Unlock()
	return gids
}
