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
// a stopped or missing SysV service and a failed systemd unit as errors
// (the init script's, service(8)'s or systemctl's non-zero exit), so an
// error is checked against the service's definition files where the OS has
// them (known): one exists, the service is installed and not running; none
// does, it is not installed.
func mapStatus(st kservice.Status, err error, installed func() (yes, known bool)) (Status, error) {
	if err == nil && st == kservice.StatusRunning {
		return StatusRunning, nil
	}
	if err == nil && st == kservice.StatusStopped {
		return StatusStopped, nil
	}
	yes, known := installed()
	switch {
	case yes:
		return StatusStopped, nil
	case known || err == nil || errors.Is(err, kservice.ErrNotInstalled):
		return StatusNotInstalled, nil
	}
	return StatusUnknown, err
}

// definedBy reports whether one of the definition files exists, and
// whether the answer is known at all (the OS has such files).
func definedBy(paths []string) (yes, known bool) {
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			return true, true
		}
	}
	return false, len(paths) > 0
}
