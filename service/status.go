package service

import (
	"errors"
	"os"

	kservice "github.com/kardianos/service"
)

// Status is the state of the installed service.
type Status int

// Statuses, as Service.Status reports them.
const (
	StatusUnknown Status = iota
	StatusRunning
	StatusStopped
	StatusNotInstalled
)

// String names the status as `imdsd status` prints it.
func (s Status) String() string {
	switch s {
	case StatusRunning:
		return "running"
	case StatusStopped:
		return "stopped"
	case StatusNotInstalled:
		return "not installed"
	}
	return "unknown"
}

// ExitCode is the status as an LSB init script status code: 0 running,
// 3 stopped, 4 not installed (LSB: "unknown"), 1 when it is not known.
func (s Status) ExitCode() int {
	switch s {
	case StatusRunning:
		return 0
	case StatusStopped:
		return 3
	case StatusNotInstalled:
		return 4
	}
	return 1
}

// mapStatus turns what kardianos reports into a Status. kardianos reports
// a stopped SysV service and a failed systemd unit as errors (the init
// script's or systemctl's non-zero exit), so an error is checked against
// the service's definition files: when one exists, the service is
// installed and not running.
func mapStatus(st kservice.Status, err error, installed func() bool) (Status, error) {
	switch {
	case err == nil && st == kservice.StatusRunning:
		return StatusRunning, nil
	case err == nil && st == kservice.StatusStopped:
		return StatusStopped, nil
	case installed():
		return StatusStopped, nil
	case err == nil || errors.Is(err, kservice.ErrNotInstalled):
		return StatusNotInstalled, nil
	}
	return StatusUnknown, err
}

// anyExists reports whether one of the paths exists.
func anyExists(paths []string) bool {
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			return true
		}
	}
	return false
}
