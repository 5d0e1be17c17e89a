//go:build !unix

package config

import (
	"fmt"
	"os"
)

// CheckKeyFile vets a private key file the daemon reads: a regular file.
// Mode bits do not describe who may read a file on Windows; the file's
// ACL does (SECURITY.md).
func CheckKeyFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is %s, %w: give the path of a regular file", path, fi.Mode().Type(), errNotRegular)
	}
	return nil
}
