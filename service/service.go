package service

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	kservice "github.com/kardianos/service"
)

// Sentinels for the control verbs.
var (
	ErrNotInstalled     = errors.New("service is not installed")
	ErrAlreadyInstalled = errors.New("service is already installed")
)

// Options configure a Service.
type Options struct {
	Name        string   // service name: unit, init script, launchd label
	DisplayName string   // shown by the Windows service manager
	Description string   // one line
	Executable  string   // absolute path; default the running executable
	Arguments   []string // e.g. serve --config /etc/imdsd/imdsd.yaml
	UserName    string   // the account the service runs as, where supported
	EnvVars     map[string]string
	// SystemdUnit is a kardianos SystemdScript template for the unit that
	// Install writes on systemd; "" keeps kardianos' own.
	SystemdUnit string
	StopTimeout time.Duration // bound of Stop; default DefaultStopTimeout
	Logger      *slog.Logger  // default slog.Default()
}

// manager is the part of kardianos' Service the adapter uses; tests
// replace it with a fake.
type manager interface {
	Run() error
	Start() error
	Stop() error
	Restart() error
	Install() error
	Uninstall() error
	Status() (kservice.Status, error)
	Platform() string
}

// Service is imdsd as a system service.
type Service struct {
	opts      Options
	prog      *program
	m         manager
	installed func() (yes, known bool)
	leftovers func() []string
}

// New prepares the service. run is the daemon, called under the manager by
// Run; it may be nil for a Service used only to install or control. ctx is
// the parent of run's context.
func New(ctx context.Context, run func(context.Context) error, opts Options) (*Service, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	log := opts.Logger.With("component", "service")
	if run == nil {
		run = func(context.Context) error { return errors.New("no daemon to run") }
	}
	prog := newProgram(ctx, run, opts.StopTimeout, log)
	kv := kservice.KeyValue{
		// RunWait returns on SIGTERM or Ctrl-C, as kardianos' default does,
		// and also when the daemon ends by itself, so a failed daemon ends
		// the process instead of idling until a signal.
		"RunWait": func() {
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
			defer signal.Stop(sig)
			select {
			case <-sig:
			case <-prog.Done():
			}
		},
		// Restart on failure everywhere, start at boot: systemd (the unit
		// says it too), launchd (RunAtLoad, KeepAlive is on by default), the
		// Windows service manager (automatic start type by default).
		"Restart":                "always",
		"RunAtLoad":              true,
		"OnFailure":              "restart",
		"OnFailureDelayDuration": "1s",
	}
	if opts.SystemdUnit != "" {
		kv["SystemdScript"] = opts.SystemdUnit
	}
	m, err := kservice.New(prog, &kservice.Config{
		Name:        opts.Name,
		DisplayName: opts.DisplayName,
		Description: opts.Description,
		Executable:  opts.Executable,
		Arguments:   opts.Arguments,
		UserName:    opts.UserName,
		EnvVars:     opts.EnvVars,
		Option:      kv,
	})
	if err != nil {
		return nil, fmt.Errorf("service manager: %w", err)
	}
	return &Service{
		opts:      opts,
		prog:      prog,
		m:         m,
		installed: func() (bool, bool) { return definedBy(definitions(opts.Name)) },
		leftovers: func() []string { return leftovers(opts.Name) },
	}, nil
}

// Interactive reports whether the process runs from a terminal or a
// script rather than under a service manager.
func Interactive() bool { return kservice.Interactive() }

// Platform names the service manager in use, e.g. linux-systemd or
// unix-systemv.
func (s *Service) Platform() string { return s.m.Platform() }

// Run runs the daemon under the service manager until the manager stops
// it, or until the daemon returns by itself; it returns the daemon's error.
func (s *Service) Run() error {
	if err := s.m.Run(); err != nil {
		return err
	}
	select {
	case <-s.prog.Done():
		return s.prog.err
	default:
		return nil
	}
}

// Status reports the service's state.
func (s *Service) Status() (Status, error) {
	st, err := s.m.Status()
	return mapStatus(st, err, s.installed)
}

// Install registers the service with the manager; it does not start it.
func (s *Service) Install() error {
	st, err := s.Status()
	if err == nil && st != StatusNotInstalled {
		return ErrAlreadyInstalled
	}
	if err := s.m.Install(); err != nil {
		return fmt.Errorf("install %s (%s): %w", s.opts.Name, s.Platform(), err)
	}
	return nil
}

// Uninstall stops the service if it runs, unregisters it, and removes what
// the manager leaves behind (SysV rc links, pid and log files).
func (s *Service) Uninstall() error {
	st, err := s.Status()
	if err != nil {
		return err
	}
	if st == StatusNotInstalled {
		return ErrNotInstalled
	}
	if st == StatusRunning {
		if err := s.m.Stop(); err != nil {
			return fmt.Errorf("stop %s: %w", s.opts.Name, err)
		}
	}
	if err := s.m.Uninstall(); err != nil {
		return fmt.Errorf("uninstall %s (%s): %w", s.opts.Name, s.Platform(), err)
	}
	var errs []error
	for _, p := range s.leftovers() {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Start asks the manager to start the service.
func (s *Service) Start() error { return s.control("start", s.m.Start) }

// Stop asks the manager to stop the service.
func (s *Service) Stop() error { return s.control("stop", s.m.Stop) }

// Restart asks the manager to restart the service.
func (s *Service) Restart() error { return s.control("restart", s.m.Restart) }

// control runs a verb, first making sure the service is installed, so that
// "not installed" is an error callers can match.
func (s *Service) control(verb string, f func() error) error {
	st, err := s.Status()
	if err != nil {
		return err
	}
	if st == StatusNotInstalled {
		return ErrNotInstalled
	}
	if err := f(); err != nil {
		return fmt.Errorf("%s %s (%s): %w", verb, s.opts.Name, s.Platform(), err)
	}
	return nil
}
