package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/imdsd/imdsd/internal/motoserver"
	"github.com/imdsd/imdsd/internal/testproc"
)

const opsRoleARN = "arn:aws:iam::123456789012:role/demo"

// opsCallerARN asks moto whose credentials these are.
func opsCallerARN(t *testing.T, stsURL, key, secret, token string) string {
	t.Helper()
	client := sts.New(sts.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(stsURL),
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, token),
	})
	out, err := client.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	return aws.ToString(out.Arn)
}

func TestOps_Commands(t *testing.T) {
	moto := motoserver.Start(t)
	bin := buildImdsd(t)
	metricsAddr := "127.0.0.1:" + strconv.Itoa(testproc.FreePort(t))
	d := startOpsDaemon(t, bin, moto.URL, "role_arn: "+opsRoleARN, "session_name: ops-test",
		"external_id: shared-secret-xyz", "metrics_listen: "+metricsAddr)
	d.waitRole(t, "demo", "fresh")
	if _, _, err := opsFetchCredentials(http.DefaultClient, d.url()); err != nil {
		t.Fatalf("IMDS credential fetch: %v\n%s", err, d.Out)
	}

	t.Run("status", func(t *testing.T) {
		code, out, errOut := d.ctl("status")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, want := range []string{"default role: demo", "ROLE", "STATE", "EXPIRES IN", "STS CALLS", "* demo", "fresh", "CLIENT", "127.0.0.1"} {
			if !strings.Contains(out, want) {
				t.Errorf("status lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "\x1b[") {
			t.Errorf("colour codes in output that is not a terminal:\n%q", out)
		}
		// The table is aligned: STATE starts in the same column on the
		// header and on the role's line.
		lines := strings.Split(out, "\n")
		var head, row string
		for _, l := range lines {
			if strings.Contains(l, "ROLE") && strings.Contains(l, "STATE") {
				head = l
			}
			if strings.HasPrefix(l, "* demo") {
				row = l
			}
		}
		if strings.Index(head, "STATE") != strings.Index(row, "fresh") {
			t.Errorf("columns not aligned:\n%s\n%s", head, row)
		}
	})
	t.Run("status json", func(t *testing.T) {
		st := d.status(t)
		if st.DefaultRole != "demo" || len(st.Roles) != 1 {
			t.Fatalf("got default %q roles %+v", st.DefaultRole, st.Roles)
		}
		r := st.Roles[0]
		if r.ARN != opsRoleARN || r.STSCalls < 1 || r.STSFailures != 0 || r.Requests < 1 || !r.Default {
			t.Errorf("role status %+v", r)
		}
		if left := time.Until(r.Expires); left < 50*time.Minute || left > 61*time.Minute {
			t.Errorf("expires in %s, want about 1h", left)
		}
		if len(st.Clients) == 0 || st.Clients[0].Address != "127.0.0.1" {
			t.Errorf("clients %+v, want 127.0.0.1", st.Clients)
		}
	})
	t.Run("creds credential_process", func(t *testing.T) {
		code, out, errOut := d.ctl("creds")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var pc processCredentials
		if err := json.Unmarshal([]byte(out), &pc); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		if pc.Version != 1 || pc.AccessKeyID == "" || pc.SecretAccessKey == "" || pc.SessionToken == "" {
			t.Fatalf("credential_process output lacks a field (Version %d)", pc.Version)
		}
		if _, err := time.Parse(time.RFC3339, pc.Expiration); err != nil {
			t.Errorf("Expiration %q: %v", pc.Expiration, err)
		}
		if got, want := opsCallerARN(t, moto.URL, pc.AccessKeyID, pc.SecretAccessKey, pc.SessionToken), "arn:aws:sts::123456789012:assumed-role/demo/ops-test"; got != want {
			t.Errorf("caller %q, want %q", got, want)
		}
	})
	t.Run("creds env", func(t *testing.T) {
		code, out, _ := d.ctl("creds", "--format", "env")
		if code != 0 || !regexp.MustCompile(`(?m)^export AWS_ACCESS_KEY_ID='[A-Z0-9]+'$`).MatchString(out) ||
			!strings.Contains(out, "export AWS_SESSION_TOKEN='") || !strings.Contains(out, "export AWS_REGION='us-east-1'") {
			t.Errorf("exit %d, env output lacks the export lines", code)
		}
	})
	t.Run("creds unknown role", func(t *testing.T) {
		code, out, errOut := d.ctl("creds", "--role", "nope")
		if code != exitError || out != "" || !strings.Contains(errOut, `role "nope" is not configured`) {
			t.Errorf("got exit %d stdout %q stderr %q", code, out, errOut)
		}
	})
	t.Run("use", func(t *testing.T) {
		code, _, errOut := d.ctl("use", "nope")
		if code != exitError || !strings.Contains(errOut, `role "nope" is not configured (configured: [demo])`) {
			t.Errorf("use nope: exit %d, %q", code, errOut)
		}
		code, out, _ := d.ctl("use", "demo")
		if code != 0 || !strings.Contains(out, "default role: demo") {
			t.Errorf("use demo: exit %d, %q", code, out)
		}
		b, err := os.ReadFile(filepath.Join(d.dir, "state.json"))
		if err != nil || !strings.Contains(string(b), `"default_role":"demo"`) {
			t.Errorf("state file: %q, %v", b, err)
		}
	})
	t.Run("env", func(t *testing.T) {
		endpoint := d.url() + "/"
		for shell, want := range map[string]string{
			"sh":         "export AWS_EC2_METADATA_SERVICE_ENDPOINT='" + endpoint + "'",
			"fish":       "set -gx AWS_EC2_METADATA_SERVICE_ENDPOINT '" + endpoint + "';",
			"powershell": "$env:AWS_EC2_METADATA_SERVICE_ENDPOINT = '" + endpoint + "'",
		} {
			code, out, _ := d.ctl("env", "--shell", shell)
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("env --shell %s: exit %d, lacks %q:\n%s", shell, code, want, out)
			}
		}
		code, out, _ := d.ctl("env", "--docker")
		if want := "-e AWS_EC2_METADATA_SERVICE_ENDPOINT=http://host.docker.internal:" + strconv.Itoa(d.port) + "/"; code != 0 || !strings.Contains(out, want) {
			t.Errorf("env --docker: exit %d, lacks %q: %s", code, want, out)
		}
	})
	t.Run("metrics", func(t *testing.T) {
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body := string(b)
		for _, re := range []string{
			`imdsd_requests_total\{route="credentials",status="200"\} [1-9]`,
			`imdsd_requests_total\{route="token",status="200"\} [1-9]`,
			`imdsd_request_duration_seconds_count\{route="credentials",status="200"\} [1-9]`,
			`imdsd_sts_calls_total\{role="demo"\} 1`,
			`imdsd_refreshes_total\{role="demo"\} 1`,
			`imdsd_credentials_expiry_seconds\{role="demo"\} \d+`,
			`imdsd_clients 1`,
		} {
			if !regexp.MustCompile(re).MatchString(body) {
				t.Errorf("metrics lack %s", re)
			}
		}
		code, out, _ := d.ctl("creds")
		var pc processCredentials
		_ = json.Unmarshal([]byte(out), &pc)
		for _, secret := range []string{"shared-secret-xyz", pc.SecretAccessKey, pc.SessionToken, pc.AccessKeyID} {
			if code != 0 || secret == "" || strings.Contains(body, secret) {
				t.Errorf("metrics contain a secret (or creds failed: exit %d)", code)
			}
		}
	})
	t.Run("config check", func(t *testing.T) {
		code, out, errOut := d.ctl0("config", "check", d.config)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, want := range []string{"valid; roles: demo (default demo)", `external_id: "<redacted>"`, `role_arn: "` + opsRoleARN + `"`, `imdsv2: "optional"  # default`, `metrics_listen: "` + metricsAddr + `"`} {
			if !strings.Contains(out, want) {
				t.Errorf("lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "shared-secret-xyz") {
			t.Error("config check printed the external ID")
		}
		bad := filepath.Join(t.TempDir(), "bad.yaml")
		_ = os.WriteFile(bad, []byte("role_arn: "+opsRoleARN+"\nmetrics_listen: nowhere\n"), 0o600)
		code, _, errOut = d.ctl0("config", "check", bad)
		if code != exitUsage || !strings.Contains(errOut, `metrics_listen "nowhere"`) {
			t.Errorf("bad config: exit %d, %q", code, errOut)
		}
	})
	t.Run("credential_process with the AWS CLI", func(t *testing.T) {
		aws, err := exec.LookPath("aws")
		if err != nil {
			t.Fatal("aws (AWS CLI v1) not found on PATH: pip install awscli")
		}
		cfg := filepath.Join(t.TempDir(), "config")
		_ = os.WriteFile(cfg, []byte("[profile viaimdsd]\ncredential_process = "+bin+" creds --socket "+d.socket+"\nregion = us-east-1\n"), 0o600)
		cmd := exec.Command(aws, "sts", "get-caller-identity", "--profile", "viaimdsd", "--endpoint-url", moto.URL, "--query", "Arn", "--output", "text")
		var env []string
		for _, kv := range opsEnv(t.TempDir()) {
			if !strings.HasPrefix(kv, "AWS_") {
				env = append(env, kv)
			}
		}
		cmd.Env = append(env, "AWS_CONFIG_FILE="+cfg, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull, "AWS_EC2_METADATA_DISABLED=true")
		out, err := cmd.Output()
		if err != nil {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("aws sts get-caller-identity: %v\n%s", err, stderr)
		}
		if got, want := strings.TrimSpace(string(out)), "arn:aws:sts::123456789012:assumed-role/demo/ops-test"; got != want {
			t.Errorf("aws CLI caller %q, want %q", got, want)
		}
	})
}

// ctl0 runs a command that takes no --socket.
func (d *opsDaemon) ctl0(args ...string) (int, string, string) {
	var o, e strings.Builder
	code := run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}
