package service

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
)

// Account is the unprivileged user (and group) the systemd unit runs as.
const Account = "imdsd"

// EnsureAccount creates the service account when it is missing, as
// the packages' preinstall script does: a system user and group with no
// home and no login shell.
func EnsureAccount() error {
	if _, err := user.Lookup(Account); err == nil {
		return nil
	}
	out, err := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
		"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
		"--comment", "imdsd metadata service", Account).CombinedOutput()
	if err != nil {
		return fmt.Errorf("create user %s: %v: %s", Account, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ShareConfig lets the service's group read the config file (root:imdsd,
// 0640), as the packages ship it: the daemon runs as imdsd under systemd.
func ShareConfig(path string) error {
	g, err := user.LookupGroup(Account)
	if err != nil {
		return fmt.Errorf("config %s: group %s: %w", path, Account, err)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return fmt.Errorf("config %s: group %s has gid %q", path, Account, g.Gid)
	}
	if err := os.Chown(path, 0, gid); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return os.Chmod(path, 0o640)
}

// RemoveAccount deletes the service account (and its group) if it
// exists.
func RemoveAccount() error {
	if _, err := user.Lookup(Account); err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return nil
		}
		return err
	}
	out, err := exec.Command("userdel", Account).CombinedOutput()
	if err != nil {
		return fmt.Errorf("remove user %s: %v: %s", Account, err, strings.TrimSpace(string(out)))
	}
	return nil
}
