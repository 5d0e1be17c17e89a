// Package packaging holds the files that install imdsd as a system
// service: the systemd unit and the commented default config. The .deb and
// .rpm packages (nfpm.yaml) ship them as they are; `imdsd install` uses the
// same text through this package, so the two cannot drift apart.
package packaging

import (
	_ "embed"
	"strings"
)

// Paths the packages install to.
const (
	UnitPath   = "/usr/lib/systemd/system/imdsd.service"
	BinaryPath = "/usr/bin/imdsd"
	ConfigPath = "/etc/imdsd/imdsd.yaml"
)

//go:embed imdsd.service
var unit string

//go:embed imdsd.yaml
var defaultConfig []byte

// execStart is the unit's ExecStart line as the package ships it.
const execStart = "ExecStart=" + BinaryPath + " serve --config " + ConfigPath

// Unit returns the systemd unit exactly as the packages ship it.
func Unit() string { return unit }

// SystemdTemplate returns the unit as a kardianos/service SystemdScript
// template: only ExecStart changes, to the installing binary's path and
// arguments.
func SystemdTemplate() string {
	return strings.Replace(unit, execStart, "ExecStart={{Path | cmdEscape}}{{range Arguments}} {{. | cmd}}{{end}}", 1)
}

// DefaultConfig returns the commented default config file.
func DefaultConfig() []byte { return append([]byte(nil), defaultConfig...) }
