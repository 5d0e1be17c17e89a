package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/imdsd/imdsd/roles"
)

// Ops is the part of Config that runs the daemon as a tool: its control
// socket, metrics listener, state file and MFA session.
type Ops struct {
	// ControlSocket is the control API's socket path (pipe name on
	// Windows); control.DefaultPath() when empty, none when "off".
	ControlSocket string
	// MetricsListen is IP:PORT for Prometheus metrics; off when empty.
	MetricsListen string
	// StateFile keeps what `imdsd use` chose across restarts;
	// defaultStateFile() when empty.
	StateFile string
	// MFASerial is the MFA device of role_arn's source credentials: the
	// role is then assumed from a session opened with `imdsd mfa`.
	MFASerial string
	// MFASessionDuration is how long one MFA code lasts (15m to 36h).
	MFASessionDuration time.Duration
}

// controlOff disables the control socket.
const controlOff = "off"

var (
	errBadMFASerial   = errors.New("must be an MFA device ARN (arn:aws:iam::123456789012:mfa/NAME) or a hardware serial such as GAHT12345678")
	errBadMFADuration = errors.New("must be between 15m and 36h")
	mfaSerialPattern  = regexp.MustCompile(`^(arn:aws(-[a-z]+)*:iam::\d{12}:(mfa|u2f)/[\w+=,.@/-]+|[A-Z0-9]{9,64})$`)
)

// validate checks the Ops settings.
func (o Ops) validate(bad func(name, value string, err error) error) error {
	if o.MetricsListen != "" {
		if err := validateListen(o.MetricsListen); err != nil {
			return bad("metrics_listen", o.MetricsListen, err)
		}
	}
	if o.MFASerial != "" && !mfaSerialPattern.MatchString(o.MFASerial) {
		return bad("mfa_serial", o.MFASerial, errBadMFASerial)
	}
	if d := o.MFASessionDuration; d != 0 && (d < roles.MinMFASessionDuration || d > roles.MaxMFASessionDuration) {
		return bad("mfa_session_duration", d.String(), errBadMFADuration)
	}
	return nil
}

func addOpsFlags(fs *flag.FlagSet, o *Ops) {
	fs.StringVar(&o.ControlSocket, "control-socket", "", "control API socket `path`, or off (default: the runtime directory's control.sock)")
	fs.StringVar(&o.MetricsListen, "metrics-listen", "", "serve Prometheus metrics on `IP:PORT` (default: off)")
	fs.StringVar(&o.StateFile, "state-file", "", "`file` that keeps the role chosen with 'imdsd use' (default: in the state directory)")
	fs.StringVar(&o.MFASerial, "mfa-serial", "", "MFA device `ARN` of the source credentials; the role is assumed from an 'imdsd mfa' session")
	fs.DurationVar(&o.MFASessionDuration, "mfa-session-duration", 0, "how long one MFA code lasts, 15m to 36h (default 12h)")
}

func mergeOpsFlag(name string, from, to *Ops) {
	switch name {
	case "control-socket":
		to.ControlSocket = from.ControlSocket
	case "metrics-listen":
		to.MetricsListen = from.MetricsListen
	case "state-file":
		to.StateFile = from.StateFile
	case "mfa-serial":
		to.MFASerial = from.MFASerial
	case "mfa-session-duration":
		to.MFASessionDuration = from.MFASessionDuration
	}
}

// defaultStateFile is where `imdsd use` persists its choice: /var/lib/imdsd
// for root (the service's StateDirectory), $STATE_DIRECTORY under systemd,
// else the user's state directory.
func defaultStateFile() string {
	if d := os.Getenv("STATE_DIRECTORY"); d != "" {
		return filepath.Join(filepath.SplitList(d)[0], "state.json")
	}
	if os.Geteuid() == 0 {
		return "/var/lib/imdsd/state.json"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "imdsd", "state.json")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "imdsd", "state.json")
	}
	return filepath.Join(os.TempDir(), "imdsd-state.json")
}
