//go:build unix

package config

import (
	"errors"
	"os"
)

// errKeyReadable: a private key others can read is theirs to sign with.
var errKeyReadable = errors.New("readable by group or others")

// CheckKeyFile vets a private key file the daemon reads (a Roles Anywhere
// role's private_key) with the config file's trust check (trustPath: the
// file and every directory and link on the way owned by root or the
// daemon's user and not writable by others), and refuses a key the group
// or others can read.
func CheckKeyFile(path string) error {
	euid := os.Geteuid()
	real, fi, err := trustPath(path, euid)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return untrusted("file", real, fi, errKeyReadable, euid, "run chmod 0600 "+real)
	}
	return nil
}
