//go:build unix

package config

import (
	"errors"
	"fmt"
	"os"
)

// errConfigWritable: a config file others can write lets them choose the
// role, the STS endpoint (where source credentials are sent) or the
// allowed users of a daemon that may run as root.
var errConfigWritable = errors.New("is writable by group or others: run chmod go-w on it (0600 or 0640)")

// checkConfigMode refuses a config file that the group or others can
// write.
func checkConfigMode(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if m := fi.Mode().Perm(); m&0o022 != 0 {
		return fmt.Errorf("mode %04o %w", m, errConfigWritable)
	}
	return nil
}
