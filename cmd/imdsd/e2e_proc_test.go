package main

// Helpers of the end-to-end test (e2e_test.go): the imdsd binary, daemons
// run as subprocesses, the credential fetch a client does, and the clean
// environment every process of the test runs in.

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/imdsd/imdsd/internal/testutil"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/imdsd/imdsd/internal/testproc"
)

// e2eRegion is the region every process of the test uses.
const e2eRegion = "us-east-1"

// e2eFreePort returns a TCP port free on 127.0.0.1 and on [::1], so one
// imdsd can listen on both with the same port.
func e2eFreePort(tb testing.TB) int {
	tb.Helper()
	for range 50 {
		ln4, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("find a free port: %v", err)
		}
		port := ln4.Addr().(*net.TCPAddr).Port
		ln6, err := net.Listen("tcp", net.JoinHostPort("::1", strconv.Itoa(port)))
		ln4.Close()
		if err != nil {
			continue
		}
		ln6.Close()
		return port
	}
	tb.Fatalf("no port free on both 127.0.0.1 and [::1] (does this machine have IPv6 loopback?)")
	return 0
}

// e2eDaemon is one imdsd serve running as a subprocess.
type e2eDaemon struct {
	*testproc.Proc
	name string
	port int
}

// e2eStartDaemon runs imdsd serve with args plus two loopback listeners on a
// free port, source credentials only in its own environment, and waits
// until it serves credentials. The test's cleanup stops it.
func e2eStartDaemon(tb testing.TB, bin, name string, sourceEnv []string, args ...string) *e2eDaemon {
	tb.Helper()
	d := &e2eDaemon{name: name, port: e2eFreePort(tb)}
	port := strconv.Itoa(d.port)
	// A control socket and state file of its own: it must not meet another
	// imdsd (an installed service, the test's other daemon).
	dir := tb.TempDir()
	args = append([]string{"serve", "--listen", "127.0.0.1:" + port, "--listen", "[::1]:" + port,
		"--log-format", "json", "--control-socket", filepath.Join(dir, "control.sock"),
		"--state-file", filepath.Join(dir, "state.json")}, args...)
	cmd := exec.Command(bin, args...)
	cmd.Env = cleanEnv(nil, sourceEnv...)
	var err error
	if d.Proc, err = testproc.Start(cmd); err != nil {
		tb.Fatalf("start imdsd: %v", err)
	}
	tb.Cleanup(func() {
		if _, err := d.Stop(10 * time.Second); err != nil {
			tb.Errorf("imdsd %s: %v", name, err)
		}
	})
	d.waitServing(tb, 30*time.Second)
	return d
}

// url returns the daemon's base URL on host (127.0.0.1 or ::1), with the
// trailing slash users are told to set.
func (d *e2eDaemon) url(host string) string {
	return "http://" + net.JoinHostPort(host, strconv.Itoa(d.port)) + "/"
}

// waitServing polls until the daemon serves a credential document that
// says Success.
func (d *e2eDaemon) waitServing(tb testing.TB, limit time.Duration) {
	tb.Helper()
	var last error
	serving := testutil.Until(limit, 50*time.Millisecond, func() bool {
		if d.Exited() {
			tb.Fatalf("imdsd %s exited before serving (exit %d):\n%s", d.name, d.ExitCode(), d.Out)
		}
		_, last = e2eFetchCredentials(d.url("127.0.0.1"))
		return last == nil
	})
	if serving {
		return
	}
	tb.Fatalf("imdsd %s did not serve credentials within %s: %v\n%s", d.name, limit, last, d.Out)
}

// e2eCredentialDoc is the part of the IMDS credential document the test reads.
type e2eCredentialDoc struct {
	Code            string
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string
	Token           string
	Expiration      string
}

// e2eFetchCredentials does what an SDK does: token, role listing, document.
func e2eFetchCredentials(base string) (e2eCredentialDoc, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	get := func(method, path string, hdr http.Header) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, method, base+path, nil)
		if err != nil {
			return nil, err
		}
		req.Header = hdr
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s %s: status %d", method, path, resp.StatusCode)
		}
		return body, err
	}
	token, err := get(http.MethodPut, "latest/api/token", http.Header{"X-Aws-Ec2-Metadata-Token-Ttl-Seconds": {"60"}})
	if err != nil {
		return e2eCredentialDoc{}, err
	}
	hdr := http.Header{"X-Aws-Ec2-Metadata-Token": {string(token)}}
	role, err := get(http.MethodGet, "latest/meta-data/iam/security-credentials/", hdr)
	if err != nil {
		return e2eCredentialDoc{}, err
	}
	body, err := get(http.MethodGet, "latest/meta-data/iam/security-credentials/"+string(role), hdr)
	if err != nil {
		return e2eCredentialDoc{}, err
	}
	var doc e2eCredentialDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return e2eCredentialDoc{}, fmt.Errorf("decode credential document: %w", err)
	}
	if doc.Code != "Success" {
		return e2eCredentialDoc{}, fmt.Errorf("credential document Code %q", doc.Code)
	}
	return doc, nil
}
