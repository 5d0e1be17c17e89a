package service

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	kservice "github.com/kardianos/service"
)

func TestStatus_Mapping(t *testing.T) {
	other := errors.New("exit status 1")
	tests := map[string]struct {
		st        kservice.Status
		err       error
		installed bool
		want      Status
		wantErr   bool
		wantCode  int
	}{
		"running":                      {kservice.StatusRunning, nil, true, StatusRunning, false, 0},
		"stopped":                      {kservice.StatusStopped, nil, true, StatusStopped, false, 3},
		"not installed":                {kservice.StatusUnknown, kservice.ErrNotInstalled, false, StatusNotInstalled, false, 4},
		"sysv stopped (script exit)":   {kservice.StatusUnknown, other, true, StatusStopped, false, 3},
		"sysv missing (service fails)": {kservice.StatusUnknown, other, false, StatusNotInstalled, false, 4},
		"systemd failed unit":          {kservice.StatusUnknown, errors.New("service in failed state"), true, StatusStopped, false, 3},
		"unit file but inactive":       {kservice.StatusUnknown, kservice.ErrNotInstalled, true, StatusStopped, false, 3},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m := &fakeManager{status: statusOf(tc.st, tc.err)}
			got, err := newTestService(m, tc.installed, nil).Status()
			if (err != nil) != tc.wantErr {
				t.Fatalf("Status error: got %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if got.ExitCode() != tc.wantCode {
				t.Errorf("ExitCode: got %d, want %d", got.ExitCode(), tc.wantCode)
			}
		})
	}
}

// TestStatus_UnknownWithoutDefinitions: where the OS has no definition
// files to look at (Windows), an error of the manager stays unknown.
func TestStatus_UnknownWithoutDefinitions(t *testing.T) {
	m := &fakeManager{status: statusOf(kservice.StatusUnknown, errors.New("access denied"))}
	s := newTestService(m, false, nil)
	s.installed = func() (bool, bool) { return false, false }
	got, err := s.Status()
	if err == nil || got != StatusUnknown || got.ExitCode() != 1 {
		t.Errorf("got %v, %v (exit %d), want unknown with an error (exit 1)", got, err, got.ExitCode())
	}
}

func TestDefinedBy(t *testing.T) {
	dir := t.TempDir()
	present := filepath.Join(dir, "imdsd.service")
	if err := os.WriteFile(present, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "imdsd")
	tests := map[string]struct {
		paths          []string
		yes, wantKnown bool
	}{
		"one exists":  {[]string{missing, present}, true, true},
		"none exists": {[]string{missing}, false, true},
		"no paths":    {nil, false, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			yes, known := definedBy(tc.paths)
			if yes != tc.yes || known != tc.wantKnown {
				t.Errorf("got (%v, %v), want (%v, %v)", yes, known, tc.yes, tc.wantKnown)
			}
		})
	}
}

func TestStatus_String(t *testing.T) {
	for st, want := range map[Status]string{
		StatusRunning: "running", StatusStopped: "stopped", StatusNotInstalled: "not installed", StatusUnknown: "unknown",
	} {
		if got := st.String(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestService_Install(t *testing.T) {
	t.Run("fresh", func(t *testing.T) {
		m := &fakeManager{status: statusOf(kservice.StatusUnknown, kservice.ErrNotInstalled), install: ok}
		if err := newTestService(m, false, nil).Install(); err != nil {
			t.Fatalf("Install: %v", err)
		}
		if want := []string{"status", "install"}; !slices.Equal(m.calls, want) {
			t.Errorf("calls: got %v, want %v", m.calls, want)
		}
	})
	t.Run("already installed", func(t *testing.T) {
		m := &fakeManager{status: statusOf(kservice.StatusStopped, nil)}
		if err := newTestService(m, true, nil).Install(); !errors.Is(err, ErrAlreadyInstalled) {
			t.Errorf("Install: got %v, want %v", err, ErrAlreadyInstalled)
		}
		if slices.Contains(m.calls, "install") {
			t.Errorf("calls %v: must not install over an installed service", m.calls)
		}
	})
}

func TestService_UninstallStopsAndCleans(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "S50imdsd-test")
	if err := os.WriteFile(link, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "imdsd-test.pid")
	m := &fakeManager{status: statusOf(kservice.StatusRunning, nil), stop: ok, uninstall: ok}
	if err := newTestService(m, true, []string{link, missing}).Uninstall(); err != nil {
		t.Fatalf("Uninstall: %v", err)
	}
	if want := []string{"status", "stop", "uninstall"}; !slices.Equal(m.calls, want) {
		t.Errorf("calls: got %v, want %v", m.calls, want)
	}
	if _, err := os.Lstat(link); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover %s still there (err %v)", link, err)
	}
}

func TestService_UninstallNotInstalled(t *testing.T) {
	m := &fakeManager{status: statusOf(kservice.StatusUnknown, kservice.ErrNotInstalled)}
	if err := newTestService(m, false, nil).Uninstall(); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("got %v, want %v", err, ErrNotInstalled)
	}
}

func TestService_Control(t *testing.T) {
	verbs := map[string]func(*Service) error{
		"start":   (*Service).Start,
		"stop":    (*Service).Stop,
		"restart": (*Service).Restart,
	}
	for verb, call := range verbs {
		t.Run(verb+" installed", func(t *testing.T) {
			m := &fakeManager{status: statusOf(kservice.StatusStopped, nil), start: ok, stop: ok, restart: ok}
			if err := call(newTestService(m, true, nil)); err != nil {
				t.Fatalf("%s: %v", verb, err)
			}
			if want := []string{"status", verb}; !slices.Equal(m.calls, want) {
				t.Errorf("calls: got %v, want %v", m.calls, want)
			}
		})
		t.Run(verb+" not installed", func(t *testing.T) {
			m := &fakeManager{status: statusOf(kservice.StatusUnknown, kservice.ErrNotInstalled)}
			if err := call(newTestService(m, false, nil)); !errors.Is(err, ErrNotInstalled) {
				t.Errorf("%s: got %v, want %v", verb, err, ErrNotInstalled)
			}
		})
		t.Run(verb+" manager fails", func(t *testing.T) {
			boom := errors.New("exit status 1")
			fail := func() error { return boom }
			m := &fakeManager{status: statusOf(kservice.StatusRunning, nil), start: fail, stop: fail, restart: fail}
			if err := call(newTestService(m, true, nil)); !errors.Is(err, boom) {
				t.Errorf("%s: got %v, want it to wrap %v", verb, err, boom)
			}
		})
	}
}
