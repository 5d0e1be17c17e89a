package service

import (
	"context"
	"log/slog"

	kservice "github.com/kardianos/service"
)

// fakeManager is a manager built from func fields; a nil field fails the
// test that reaches it through calls.
type fakeManager struct {
	run       func() error
	start     func() error
	stop      func() error
	restart   func() error
	install   func() error
	uninstall func() error
	status    func() (kservice.Status, error)
	calls     []string
}

var _ manager = (*fakeManager)(nil)

func (f *fakeManager) Run() error       { f.calls = append(f.calls, "run"); return f.run() }
func (f *fakeManager) Start() error     { f.calls = append(f.calls, "start"); return f.start() }
func (f *fakeManager) Stop() error      { f.calls = append(f.calls, "stop"); return f.stop() }
func (f *fakeManager) Restart() error   { f.calls = append(f.calls, "restart"); return f.restart() }
func (f *fakeManager) Install() error   { f.calls = append(f.calls, "install"); return f.install() }
func (f *fakeManager) Uninstall() error { f.calls = append(f.calls, "uninstall"); return f.uninstall() }
func (f *fakeManager) Status() (kservice.Status, error) {
	f.calls = append(f.calls, "status")
	return f.status()
}
func (f *fakeManager) Platform() string { return "fake" }

func ok() error { return nil }

func statusOf(st kservice.Status, err error) func() (kservice.Status, error) {
	return func() (kservice.Status, error) { return st, err }
}

func newTestService(m *fakeManager, installed bool, leftovers []string) *Service {
	return &Service{
		opts:      Options{Name: "imdsd-test"},
		m:         m,
		installed: func() (bool, bool) { return installed, true },
		leftovers: func() []string { return leftovers },
		prog:      newProgram(context.TODO(), nil, 0, slog.New(slog.DiscardHandler)),
	}
}
