//go:build !windows

package control

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
)

// socketGroup names the group that would let this user through to path: the
// socket's own group or, when the socket cannot even be looked at, the group
// of the directory that keeps this user out (the deepest one on the way that
// can be looked at). "" when none can.
func socketGroup(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	for p := path; ; {
		if o, ok := statOwner(os.Stat(p)); ok {
			return groupName(o.gid)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return ""
		}
		p = parent
	}
}

func groupName(gid int) string {
	if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
		return g.Name
	}
	return strconv.Itoa(gid)
}
