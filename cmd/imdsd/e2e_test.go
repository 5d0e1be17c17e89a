package main

// The end-to-end proof: the real imdsd binary, a real local STS (moto) and
// real, unmodified AWS clients. Each client runs with no credentials of its
// own (no AWS_* variable, no shared config or credentials file), finds
// imdsd through AWS_EC2_METADATA_SERVICE_ENDPOINT only, and must get the
// configured role's assumed-role ARN from STS GetCallerIdentity. A client
// that is not installed fails its case with what to install.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/imdsd/imdsd/internal/motoserver"
)

const (
	e2eRoleARN = "arn:aws:iam::123456789012:role/e2e-role"
	// e2eWantARN is the prefix of the identity STS reports for the role.
	e2eWantARN = "arn:aws:sts::123456789012:assumed-role/e2e-role/"
)

// e2eOutputs collects everything the run printed, for the secret scan.
type e2eOutputs map[string]func() string

func (o e2eOutputs) add(name, s string) { o[name] = func() string { return s } }

func TestE2E(t *testing.T) {
	e2eIsolateEnv(t)
	bin := buildImdsd(t)
	moto := motoserver.Start(t)
	sourceSecret := "e2e-source-" + e2eRandomHex(t)
	sourceEnv := []string{"AWS_ACCESS_KEY_ID=AKIAE2ESOURCE0000001", "AWS_SECRET_ACCESS_KEY=" + sourceSecret}
	common := []string{"--role-arn", e2eRoleARN, "--sts-endpoint", moto.URL, "--region", e2eRegion}
	optional := e2eStartDaemon(t, bin, "optional", sourceEnv, append(common, "--imdsv2", "optional")...)
	required := e2eStartDaemon(t, bin, "required", sourceEnv, append(common, "--imdsv2", "required")...)

	outputs := e2eOutputs{"moto": moto.Logs, "imdsd optional": optional.Out.String, "imdsd required": required.Out.String}
	secrets := []string{sourceSecret}
	for _, d := range []*e2eDaemon{optional, required} {
		doc, err := e2eFetchCredentials(d.url("127.0.0.1"))
		if err != nil {
			t.Fatalf("fetch credentials from imdsd %s: %v", d.name, err)
		}
		secrets = append(secrets, doc.SecretAccessKey, doc.Token)
	}

	t.Run("required-refuses-v1", func(t *testing.T) {
		// So the clients that pass against it used IMDSv2 tokens.
		resp, err := http.Get(required.url("::1") + "latest/meta-data/iam/security-credentials/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET without a token: got status %d, want 401", resp.StatusCode)
		}
	})
	// Both address families and both IMDSv2 modes, for every client.
	endpoints := []struct{ name, url string }{
		{"ipv4/optional", optional.url("127.0.0.1")},
		{"ipv6/required", required.url("::1")},
	}
	t.Run("go-sdk-v2", func(t *testing.T) {
		for _, ep := range append(endpoints,
			struct{ name, url string }{"ipv6/optional", optional.url("::1")},
			struct{ name, url string }{"ipv4/required", required.url("127.0.0.1")},
		) {
			t.Run(ep.name, func(t *testing.T) {
				arn, err := e2eGoSDKIdentity(ep.url, moto.URL)
				if err != nil {
					t.Fatalf("aws-sdk-go-v2: %v", err)
				}
				if !strings.HasPrefix(arn, e2eWantARN) {
					t.Errorf("got ARN %q, want %s...", arn, e2eWantARN)
				}
			})
		}
	})
	for _, c := range e2eClients() {
		t.Run(c.name, func(t *testing.T) {
			argv, err := c.resolve()
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			for _, ep := range endpoints {
				t.Run(ep.name, func(t *testing.T) {
					stdout, stderr, err := e2eRunClient(argv, ep.url, moto.URL)
					outputs.add(c.name+" "+ep.name+" stdout", stdout)
					outputs.add(c.name+" "+ep.name+" stderr", stderr)
					if err != nil {
						t.Fatalf("%s: %v\nstderr (tail):\n%s", c.name, err, e2eTail(stderr, 5))
					}
					if arn := e2eLastLine(stdout); !strings.HasPrefix(arn, e2eWantARN) {
						t.Errorf("got ARN %q, want %s...", arn, e2eWantARN)
					}
				})
			}
		})
	}
	t.Run("no-credentials-without-imdsd", func(t *testing.T) {
		// The control: against a metadata service with no role (404 for
		// every path) the same client finds no credentials, so the passes
		// above came from imdsd alone.
		empty := httptest.NewServer(http.NotFoundHandler())
		defer empty.Close()
		if arn, err := e2eGoSDKIdentity(empty.URL+"/", moto.URL); err == nil {
			t.Errorf("aws-sdk-go-v2 with no role to fetch got identity %q, want an error", arn)
		} else {
			t.Logf("as expected: %v", err)
		}
	})
	t.Run("bad-flags", func(t *testing.T) { e2eBadFlags(t, bin, outputs) })
	t.Run("sigterm", func(t *testing.T) {
		for _, d := range []*e2eDaemon{optional, required} {
			code, err := d.Stop(10 * time.Second)
			if err != nil {
				t.Fatalf("imdsd %s: %v", d.name, err)
			}
			if code != 0 {
				t.Errorf("imdsd %s: exit code %d after SIGTERM, want 0\n%s", d.name, code, d.Out)
			}
			if !strings.Contains(d.Out.String(), `"msg":"stopped"`) {
				t.Errorf("imdsd %s: no \"stopped\" log line after SIGTERM:\n%s", d.name, d.Out)
			}
		}
	})
	t.Run("no-secret-in-output", func(t *testing.T) {
		for name, text := range outputs {
			out := text()
			for _, s := range secrets {
				if s != "" && strings.Contains(out, s) {
					// Name the output and the secret's tail, never the secret.
					t.Errorf("%s contains a secret (…%s)", name, s[len(s)-4:])
				}
			}
		}
	})
}

// e2eIsolateEnv unsets every AWS_* variable for the test and points the
// shared config and credentials files at nothing, so the in-process Go SDK
// can only find imdsd. Variables are restored when the test ends.
func e2eIsolateEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "") // registers the restore
			os.Unsetenv(k)
		}
	}
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
}

// e2eGoSDKIdentity asks STS at stsURL who aws-sdk-go-v2's default config chain
// is, with endpoint as the EC2 metadata service, and checks the credentials
// came from the EC2 role provider.
func e2eGoSDKIdentity(endpoint, stsURL string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithSharedConfigFiles([]string{os.DevNull}),
		config.WithSharedCredentialsFiles([]string{os.DevNull}),
		config.WithRegion(e2eRegion),
		config.WithEC2IMDSEndpoint(endpoint),
	)
	if err != nil {
		return "", err
	}
	client := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(stsURL) })
	out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", err
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return "", err
	}
	if creds.Source != ec2rolecreds.ProviderName {
		return "", errors.New("credentials came from " + creds.Source + ", want " + ec2rolecreds.ProviderName)
	}
	return aws.ToString(out.Arn), nil
}

// e2eClient is a client run as a subprocess.
type e2eClient struct {
	name    string
	resolve func() ([]string, error) // its command line, or what to install
}

// e2eInstallHint is appended to every "not installed" failure.
const e2eInstallHint = "run scripts/test.sh, it installs every end-to-end client"

func e2eClients() []e2eClient {
	cli := []string{"sts", "get-caller-identity", "--query", "Arn", "--output", "text"}
	return []e2eClient{
		{"aws-cli-v1", func() ([]string, error) {
			bin, err := e2eFindAWSCLI("1")
			return append([]string{bin}, cli...), err
		}},
		{"aws-cli-v2-debian", func() ([]string, error) {
			if v := e2eAWSVersion("/usr/bin/aws"); !strings.HasPrefix(v, "aws-cli/2.") {
				return nil, errors.New("Debian's AWS CLI v2 not at /usr/bin/aws (found " + e2eOrNothing(v) +
					"): apt-get install awscli; " + e2eInstallHint)
			}
			return append([]string{"/usr/bin/aws"}, cli...), nil
		}},
		{"boto3", func() ([]string, error) {
			if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
				return nil, errors.New("python3 with boto3 not found: pip install boto3; " + e2eInstallHint)
			}
			return []string{"python3", "-c", `import os, boto3
sts = boto3.session.Session().client("sts", endpoint_url=os.environ["E2E_STS_ENDPOINT"])
print(sts.get_caller_identity()["Arn"])`}, nil
		}},
		{"js-sdk-v3", func() ([]string, error) {
			dir, _ := filepath.Abs("../../scripts/js")
			if _, err := exec.LookPath("node"); err != nil {
				return nil, errors.New("node not found: apt-get install nodejs npm; " + e2eInstallHint)
			}
			if _, err := os.Stat(filepath.Join(dir, "node_modules", "@aws-sdk", "credential-providers")); err != nil {
				return nil, errors.New("the JavaScript SDK is not installed in scripts/js: run `npm ci` there; " + e2eInstallHint)
			}
			return []string{"node", filepath.Join(dir, "whoami.mjs")}, nil
		}},
	}
}

// e2eFindAWSCLI finds an `aws` on PATH whose major version is major.
func e2eFindAWSCLI(major string) (string, error) {
	home, _ := os.UserHomeDir()
	cands := []string{filepath.Join(home, ".pyenv", "shims", "aws")}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		cands = append([]string{filepath.Join(dir, "aws")}, cands...)
	}
	for _, c := range cands {
		if strings.HasPrefix(e2eAWSVersion(c), "aws-cli/"+major+".") {
			return c, nil
		}
	}
	return "", errors.New("AWS CLI v" + major + " not found on PATH: pip install awscli; " + e2eInstallHint)
}

// e2eAWSVersion returns the first word of `aws --version`, or "".
func e2eAWSVersion(bin string) string {
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		return ""
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// e2eRunClient runs a client with the IMDS endpoint as its only credential
// source.
func e2eRunClient(argv []string, endpoint, stsURL string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := argv[1:]
	if strings.HasSuffix(argv[0], "aws") {
		args = append(args, "--endpoint-url", stsURL)
	}
	cmd := exec.CommandContext(ctx, argv[0], args...)
	cmd.Env = cleanEnv(nil,
		"AWS_EC2_METADATA_SERVICE_ENDPOINT="+endpoint,
		"AWS_REGION="+e2eRegion, "AWS_DEFAULT_REGION="+e2eRegion,
		"E2E_STS_ENDPOINT="+stsURL, "NODE_NO_WARNINGS=1",
	)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func e2eLastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func e2eTail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func e2eOrNothing(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

func e2eRandomHex(tb testing.TB) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}
