//go:build !unix

package config

import (
	"errors"
	"fmt"
	"os"
)

// errNotRegular: a named pipe or a device at the config path would block
// the daemon's read or read something else (issue 15 item 8).
var errNotRegular = errors.New("not a regular file")

// openConfig opens the config file and checks that it is a regular file
// before anything reads it (opening a named pipe or a device does not
// block on Windows; reading it would). Ownership and mode are not checked
// on Windows, where mode bits do not describe who may write a file; the
// installer's ACL does (SECURITY.md).
func openConfig(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is %s, %w: give the path of a regular file", path, fi.Mode().Type(), errNotRegular)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
