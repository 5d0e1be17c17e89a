package testutil

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/imdsd/imdsd/internal/testproc"
)

// StartChild runs the test named run of this test binary in a child
// process, with env added to the environment, until the test ends: then
// its stdin is closed, which asks it to stop, and it must exit 0 within
// 10 s. It returns what the child writes to stdout and stderr. The EMFILE
// tests run their starved servers so, with a file limit of their own.
func StartChild(tb testing.TB, run string, env ...string) (stdout, stderr *testproc.Buffer) {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+run+"$")
	cmd.Env = append(os.Environ(), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, stderr = &testproc.Buffer{}, &testproc.Buffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tb.Cleanup(func() {
		stdin.Close()
		select {
		case err := <-exited:
			if err != nil {
				tb.Errorf("child %s: %v\nstdout:\n%s\nstderr:\n%s", run, err, stdout, stderr)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			tb.Errorf("child %s did not stop", run)
		}
	})
	return stdout, stderr
}
