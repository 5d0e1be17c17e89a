package main

import (
	"errors"
	"fmt"
	"os/exec"
	"os/user"
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
