package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
)

// serviceUser is the unprivileged account the systemd unit runs as.
const serviceUser = "imdsd"

// ensureServiceUser creates the service account when it is missing, as
// the packages' preinstall script does: a system user and group with no
// home and no login shell.
func ensureServiceUser() error {
	if _, err := user.Lookup(serviceUser); err == nil {
		return nil
	}
	out, err := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
		"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
		"--comment", "imdsd metadata service", serviceUser).CombinedOutput()
	if err != nil {
		return fmt.Errorf("create user %s: %v: %s", serviceUser, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// shareConfig lets the service's group read the config file (root:imdsd,
// 0640), as the packages ship it: the daemon runs as imdsd under systemd.
func shareConfig(path string) error {
	g, err := user.LookupGroup(serviceUser)
	if err != nil {
		return fmt.Errorf("config %s: group %s: %w", path, serviceUser, err)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return fmt.Errorf("config %s: group %s has gid %q", path, serviceUser, g.Gid)
	}
	if err := os.Chown(path, 0, gid); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return os.Chmod(path, 0o640)
}

// removeServiceUser deletes the service account (and its group) if it
// exists.
func removeServiceUser() error {
	if _, err := user.Lookup(serviceUser); err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return nil
		}
		return err
	}
	out, err := exec.Command("userdel", serviceUser).CombinedOutput()
	if err != nil {
		return fmt.Errorf("remove user %s: %v: %s", serviceUser, err, strings.TrimSpace(string(out)))
	}
	return nil
}
