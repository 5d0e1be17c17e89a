package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imdsd/imdsd/control"
)

// envEndpoint runs `imdsd env` with args and returns the endpoint it sets.
func envEndpoint(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), append([]string{"env"}, args...), &stdout, &stderr); code != exitOK {
		t.Fatalf("imdsd env %s: exit %d; stderr %q", strings.Join(args, " "), code, stderr.String())
	}
	const prefix = "export AWS_EC2_METADATA_SERVICE_ENDPOINT='"
	for line := range strings.Lines(stdout.String()) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok {
			return strings.TrimSuffix(v, "'")
		}
	}
	t.Fatalf("imdsd env: no AWS_EC2_METADATA_SERVICE_ENDPOINT line in %q", stdout.String())
	return ""
}

// TestEnv_Endpoint: `imdsd env` prints the one endpoint value every SDK
// and CLI of scripts/e2e.sh's matrix takes (issue 16 item 2): a loopback
// literal of a listener the daemon has, ending in "/" (the AWS CLI v2
// cannot work without it; docs/endpoint.md).
func TestEnv_Endpoint(t *testing.T) {
	tests := map[string]struct {
		listen []string // the daemon's; nil: no daemon
		want   string
	}{
		"no daemon: the default listener":   {nil, "http://127.0.0.1:9254/"},
		"IPv4 loopback first":               {[]string{"[::1]:9300", "127.0.0.1:9300"}, "http://127.0.0.1:9300/"},
		"IPv6 only":                         {[]string{"[::1]:9301"}, "http://[::1]:9301/"},
		"link-local and loopback":           {[]string{"169.254.169.254:80", "127.0.0.1:9302"}, "http://127.0.0.1:9302/"},
		"no loopback listener: default":     {[]string{"169.254.169.254:80"}, "http://127.0.0.1:9254/"},
		"loopback other than 127.0.0.1":     {[]string{"127.0.0.2:9303"}, "http://127.0.0.2:9303/"},
		"a name is not an address: skip it": {[]string{"localhost:9304", "127.0.0.1:9305"}, "http://127.0.0.1:9305/"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sock := filepath.Join(shortTempDir(t), "none.sock")
			if tc.listen != nil {
				ctl := newFakeCtl(t)
				data, _ := json.Marshal(control.Status{Listen: tc.listen})
				ctl.reply = func(string) control.Response { return control.Response{OK: true, Data: data} }
				sock = ctl.path
			}
			got := envEndpoint(t, "--socket", sock)
			if got != tc.want {
				t.Errorf("endpoint %q, want %q", got, tc.want)
			}
			if !strings.HasSuffix(got, "/") {
				t.Errorf("endpoint %q does not end in /: the AWS CLI v2 cannot use it", got)
			}
		})
	}
}
