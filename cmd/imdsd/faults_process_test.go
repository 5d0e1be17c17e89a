//go:build linux

package main

import (
	"encoding/json"
	"github.com/imdsd/imdsd/imds"
	"github.com/imdsd/imdsd/internal/testproc"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// credDoc is the credential document, or an error document.
type credDoc struct {
	Code        string
	Message     string
	AccessKeyID string `json:"AccessKeyId"`
	Expiration  string
}

// faultProcess is an imdsd serve process.
type faultProcess struct {
	*testproc.Proc
	addr string
	port string
}

func startFaultProcess(t *testing.T, stsURL, port string, extra ...string) *faultProcess {
	t.Helper()
	bin := buildImdsd(t)
	if port == "" {
		port = strconv.Itoa(testproc.FreePort(t))
	}
	dir := t.TempDir()
	d := &faultProcess{addr: "127.0.0.1:" + port, port: port}
	cmd := exec.Command(bin, "serve", "--listen", d.addr, "--role-arn", "arn:aws:iam::123456789012:role/demo",
		"--sts-endpoint", stsURL, "--region", "us-east-1", "--log-format", "json",
		"--control-socket", filepath.Join(dir, "control.sock"), "--state-file", filepath.Join(dir, "state.json"))
	cmd.Args = append(cmd.Args, extra...)
	cmd.Env = faultEnv(dir)
	var err error
	if d.Proc, err = testproc.Start(cmd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Kill()
		if t.Failed() {
			t.Logf("imdsd output:\n%s", d.Out.String())
		}
		if strings.Contains(d.Out.String(), faultSecretMark) {
			t.Errorf("imdsd logged a secret")
		}
	})
	return d
}

func (d *faultProcess) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-d.Done():
		return d.ExitCode()
	case <-time.After(30 * time.Second):
		t.Fatal("imdsd did not exit")
		return -1
	}
}

// waitServing polls until instance-id answers 200 and returns when.
func (d *faultProcess) waitServing(t *testing.T) time.Time {
	t.Helper()
	var at time.Time
	faultWait(t, "imdsd serving", func() bool {
		resp, err := http.Get("http://" + d.addr + imds.PathInstanceID)
		if err != nil {
			return false
		}
		resp.Body.Close()
		at = time.Now()
		return resp.StatusCode == 200
	})
	return at
}

func (d *faultProcess) credentialDoc(t *testing.T) credDoc {
	t.Helper()
	resp, err := http.Get("http://" + d.addr + imds.PathSecurityCredentials + "/demo")
	if err != nil {
		t.Fatalf("credential GET: %v", err)
	}
	defer resp.Body.Close()
	var doc credDoc
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != 200 {
		t.Fatalf("credential GET: status %d, %v", resp.StatusCode, err)
	}
	return doc
}

func (d *faultProcess) waitCredentials(t *testing.T) {
	t.Helper()
	d.waitServing(t)
	faultWait(t, "credentials", func() bool { return d.credentialDoc(t).Code == "Success" })
}

func isRefused(err error) bool {
	return strings.Contains(err.Error(), "connection refused")
}

// isDropped reports an error of a connection closed before any answer.
func isDropped(err error) bool {
	s := err.Error()
	return strings.Contains(s, "connection reset") || strings.Contains(s, "EOF")
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}
