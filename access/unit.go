package access

import (
	"bufio"
	"errors"
	"io"
	"strings"
)

// ErrNoUnit: the process runs in no systemd system unit (a user's session
// or user service, a container, or a machine without systemd).
var ErrNoUnit = errors.New("not in a systemd system unit")

// UnitOfCgroup returns the systemd system unit of a cgroup path as
// /proc/PID/cgroup gives it ("/system.slice/billing.service",
// "/system.slice/billing.service/worker"). Units a user's own systemd
// manages (under user.slice, or user@UID.service) are refused: any local
// user can name a user unit billing.service, only root can start a system
// one, so only a system unit can prove who a caller is.
func UnitOfCgroup(path string) (string, error) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, s := range segs {
		switch {
		case s == "user.slice" || strings.HasPrefix(s, "user@") || strings.HasPrefix(s, "user-"):
			return "", ErrNoUnit
		case strings.HasSuffix(s, ".slice"):
			continue
		case strings.HasSuffix(s, ".service") || strings.HasSuffix(s, ".scope"):
			return s, nil
		default:
			return "", ErrNoUnit
		}
	}
	return "", ErrNoUnit
}

// UnitOfProcCgroup reads a /proc/PID/cgroup file: the unified hierarchy's
// line ("0::PATH"), else the systemd named hierarchy's
// ("N:name=systemd:PATH").
func UnitOfProcCgroup(r io.Reader) (string, error) {
	var unified, named string
	sc := bufio.NewScanner(io.LimitReader(r, 64<<10))
	for sc.Scan() {
		id, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		ctrl, path, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		switch {
		case id == "0" && ctrl == "":
			unified = path
		case ctrl == "name=systemd":
			named = path
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	if named != "" {
		return UnitOfCgroup(named)
	}
	if unified != "" {
		return UnitOfCgroup(unified)
	}
	return "", ErrNoUnit
}
