package main

// Helpers of the ops tests: an imdsd daemon run as a subprocess with its
// own control socket, state file and config file, and in-process calls of
// the client commands against it.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/imdsd/imdsd/internal/testutil"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imdsd/imdsd/control"
	"github.com/imdsd/imdsd/internal/testproc"
)

// opsEnv is a clean environment: no AWS_* variable, no shared files, no
// proxy, source credentials that moto accepts, and runtime and state
// directories of the test.
func opsEnv(dir string, extra ...string) []string {
	drop := func(k string) bool {
		return strings.HasSuffix(strings.ToLower(k), "_proxy") || k == "XDG_RUNTIME_DIR" || k == "XDG_STATE_HOME"
	}
	return cleanEnv(drop, append([]string{
		"AWS_ACCESS_KEY_ID=AKIAEXAMPLEOPS000001", "AWS_SECRET_ACCESS_KEY=ops-source-secret",
		"XDG_RUNTIME_DIR=" + filepath.Join(dir, "run"), "XDG_STATE_HOME=" + filepath.Join(dir, "state")}, extra...)...)
}

// opsDaemon is one `imdsd serve --config FILE` subprocess.
type opsDaemon struct {
	bin, dir, config, socket string
	port                     int
	wrap                     []string // command prefix, e.g. ip netns exec NS
	extraListen              []string // listen addresses besides 127.0.0.1:port
	*testproc.Proc
}

// opsConfig is the YAML config of a test daemon: listen, control socket,
// state file and STS endpoint, plus extra lines.
func (d *opsDaemon) writeConfig(tb testing.TB, stsURL string, extra ...string) {
	tb.Helper()
	listen := append([]string{"127.0.0.1:" + strconv.Itoa(d.port)}, d.extraListen...)
	lines := []string{
		"listen: [" + strings.Join(listen, ", ") + "]",
		"control_socket: " + d.socket,
		"state_file: " + filepath.Join(d.dir, "state.json"),
		"sts_endpoint: " + stsURL,
		"region: us-east-1",
		"log_format: json",
		// Every client of these tests is 127.0.0.1, and the load of
		// TestOps_ReloadUnderLoad fetches without pause: without -race it
		// passes the per-client limit (1024 requests/s) and is answered
		// 429. The limiter has its own tests (imds, security_test.go).
		"rate_limit: 1000000000",
		"rate_burst: 1000000000",
	}
	lines = append(lines, extra...)
	if err := os.WriteFile(d.config, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// startOpsDaemon writes the config and starts the daemon; it waits for
// the control socket to answer. The test's cleanup stops it.
func startOpsDaemon(tb testing.TB, bin, stsURL string, extra ...string) *opsDaemon {
	tb.Helper()
	return startOpsDaemonIn(tb, nil, testproc.FreePort(tb), bin, stsURL, extra...)
}

// startOpsDaemonIn is startOpsDaemon with a command prefix (wrap) and a
// given port.
func startOpsDaemonIn(tb testing.TB, wrap []string, port int, bin, stsURL string, extra ...string) *opsDaemon {
	tb.Helper()
	dir := tb.TempDir()
	d := &opsDaemon{bin: bin, dir: dir, config: filepath.Join(dir, "imdsd.yaml"), socket: filepath.Join(dir, "control.sock"),
		port: port, wrap: wrap}
	d.writeConfig(tb, stsURL, extra...)
	d.start(tb)
	tb.Cleanup(func() { d.stop(tb) })
	return d
}

// start starts the daemon (again, after stop) and waits for its control
// socket to answer.
func (d *opsDaemon) start(tb testing.TB) {
	tb.Helper()
	argv := append(append([]string(nil), d.wrap...), d.bin, "serve", "--config", d.config)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = opsEnv(d.dir)
	var err error
	if d.Proc, err = testproc.Start(cmd); err != nil {
		tb.Fatalf("start imdsd: %v", err)
	}
	answers := testutil.Until(30*time.Second, 50*time.Millisecond, func() bool {
		if d.Exited() {
			tb.Fatalf("imdsd exited at start:\n%s", d.Out)
		}
		return (control.Client{Path: d.socket}).Call(context.Background(), control.CmdStatus, nil, nil) == nil
	})
	if !answers {
		d.Kill() // a daemon that never answered must not outlive the test
		tb.Fatalf("imdsd's control socket did not answer within 30s:\n%s", d.Out)
	}
}

// stop ends the daemon with SIGTERM (SIGKILL after 10 s).
func (d *opsDaemon) stop(tb testing.TB) {
	tb.Helper()
	if _, err := d.Stop(10 * time.Second); err != nil {
		tb.Errorf("imdsd: %v", err)
	}
}

func (d *opsDaemon) url() string { return "http://127.0.0.1:" + strconv.Itoa(d.port) }

// ctl runs an imdsd client command in-process against the daemon.
func (d *opsDaemon) ctl(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	full := append([]string{args[0], "--socket", d.socket}, args[1:]...)
	code = run(context.Background(), full, &o, &e)
	return code, o.String(), e.String()
}

// status returns the daemon's status.
func (d *opsDaemon) status(tb testing.TB) control.Status {
	tb.Helper()
	code, out, errOut := d.ctl("status", "--json")
	if code != 0 {
		tb.Fatalf("status --json: exit %d: %s", code, errOut)
	}
	var st control.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		tb.Fatalf("status --json: %v\n%s", err, out)
	}
	return st
}

// waitRole polls status until role is in state.
func (d *opsDaemon) waitRole(tb testing.TB, role, state string) control.RoleStatus {
	tb.Helper()
	var last control.Status
	var found control.RoleStatus
	reached := testutil.Until(30*time.Second, 50*time.Millisecond, func() bool {
		last = d.status(tb)
		for _, r := range last.Roles {
			if r.Name == role && r.State == state {
				found = r
				return true
			}
		}
		return false
	})
	if !reached {
		tb.Fatalf("role %s did not reach state %s within 30s: %+v\n%s", role, state, last.Roles, d.Out)
	}
	return found
}

// logged reports whether the daemon's output holds line within 10 s. The
// daemon writes a log line before it answers the request that caused it,
// but its output reaches d.Out through a pipe and a copying goroutine, so
// the test waits for it (a bound, not a timing assertion).
func (d *opsDaemon) logged(line string) bool {
	return testutil.Until(10*time.Second, 20*time.Millisecond, func() bool { return strings.Contains(d.Out.String(), line) })
}

// opsCredDoc is the part of an IMDS credential document the tests read.
type opsCredDoc struct {
	Code, Message, AccessKeyID, SecretAccessKey, Token, Expiration string
}

// opsFetchCredentials does what an SDK does: token, role listing, document.
// It returns the role name listed and the document.
func opsFetchCredentials(client *http.Client, base string) (string, opsCredDoc, error) {
	do := func(method, path, tok string) ([]byte, error) {
		req, _ := http.NewRequest(method, base+path, nil)
		if tok == "" {
			req.Header.Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "60")
		} else {
			req.Header.Set("X-Aws-Ec2-Metadata-Token", tok)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s %s: %s", method, path, resp.Status)
		}
		return b, err
	}
	tok, err := do(http.MethodPut, "/latest/api/token", "")
	if err != nil {
		return "", opsCredDoc{}, err
	}
	name, err := do(http.MethodGet, "/latest/meta-data/iam/security-credentials/", string(tok))
	if err != nil {
		return "", opsCredDoc{}, err
	}
	b, err := do(http.MethodGet, "/latest/meta-data/iam/security-credentials/"+string(name), string(tok))
	if err != nil {
		return string(name), opsCredDoc{}, err
	}
	var doc struct {
		Code, Message, AccessKeyId, SecretAccessKey, Token, Expiration string
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return string(name), opsCredDoc{}, err
	}
	if doc.Code != "Success" {
		return string(name), opsCredDoc{}, fmt.Errorf("credential document: %s: %s", doc.Code, doc.Message)
	}
	return string(name), opsCredDoc{doc.Code, doc.Message, doc.AccessKeyId, doc.SecretAccessKey, doc.Token, doc.Expiration}, nil
}
