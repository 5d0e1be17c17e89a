package rastub_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imdsd/imdsd/internal/rastub"
)

// helperPath is AWS's helper as scripts/rolesanywhere-helper.sh installs it.
func helperPath(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("IMDSD_TOOLS")
	if dir == "" {
		dir = "/var/cache/imdsd/tools"
	}
	p := filepath.Join(dir, "rolesanywhere-credential-helper")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("AWS's Roles Anywhere helper is not installed at %s: run scripts/rolesanywhere-helper.sh (it builds github.com/aws/rolesanywhere-credential-helper v1.4.0 there)", p)
	}
	return p
}

// processOutput is credential-process's JSON.
type processOutput struct {
	Version         int
	AccessKeyId     string
	SecretAccessKey string
	SessionToken    string
	Expiration      string
}

func runHelper(t *testing.T, endpoint string, f rastub.Files) (processOutput, string, error) {
	t.Helper()
	args := []string{"credential-process", "--endpoint", endpoint,
		"--certificate", f.Certificate, "--private-key", f.PrivateKey,
		"--trust-anchor-arn", rastub.TrustAnchorARN, "--profile-arn", rastub.ProfileARN, "--role-arn", rastub.RoleARN,
		"--session-duration", "1800"}
	if f.Chain != "" {
		args = append(args, "--intermediates", f.Chain)
	}
	cmd := exec.Command(helperPath(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var out processOutput
	if err == nil {
		if jerr := json.Unmarshal(stdout.Bytes(), &out); jerr != nil {
			t.Fatalf("helper output is not credential-process JSON: %v", jerr)
		}
	}
	return out, stderr.String(), err
}

// TestStandIn_AWSHelperPasses: AWS's own client, signing with RSA and EC
// leaves (one through an intermediate), gets credentials from the
// stand-in, which saw the leaf's serial and the duration asked for.
func TestStandIn_AWSHelperPasses(t *testing.T) {
	fx := rastub.NewFixture(t, rastub.Options{})
	inter := fx.CA.Intermediate("imdsd test intermediate")
	for name, tc := range map[string]struct {
		issuer *rastub.CA
		key    rastub.KeyType
		format rastub.KeyFormat
		chain  bool
	}{
		"RSA PKCS#8":           {fx.CA, rastub.RSA, rastub.PKCS8, false},
		"RSA PKCS#1":           {fx.CA, rastub.RSA, rastub.PKCS1, false},
		"EC SEC1":              {fx.CA, rastub.EC, rastub.SEC1, false},
		"EC via intermediate":  {inter, rastub.EC, rastub.PKCS8, true},
		"RSA via intermediate": {inter, rastub.RSA, rastub.PKCS8, true},
	} {
		t.Run(name, func(t *testing.T) {
			leaf := tc.issuer.Issue(rastub.LeafOptions{Key: tc.key})
			f := leaf.Write(t.TempDir(), "leaf", tc.format)
			if tc.chain {
				f = leaf.Write(t.TempDir(), "leaf", tc.format, inter.Cert)
			}
			out, stderr, err := runHelper(t, fx.URL, f)
			if err != nil {
				t.Fatalf("helper refused: %v\n%s\nstand-in saw: %+v", err, stderr, fx.Requests())
			}
			if !strings.HasPrefix(out.AccessKeyId, "ASIA") || out.SessionToken == "" {
				t.Errorf("got credentials %q, want the stand-in's ASIA key and a token", out.AccessKeyId)
			}
			exp, err := time.Parse(time.RFC3339, out.Expiration)
			if err != nil || time.Until(exp) < 25*time.Minute || time.Until(exp) > 31*time.Minute {
				t.Errorf("got expiration %q, want about 30 minutes from now", out.Expiration)
			}
			reqs := fx.Requests()
			last := reqs[len(reqs)-1]
			if last.Serial != leaf.Cert.SerialNumber.String() || last.Duration != 1800 || last.Refusal != "" {
				t.Errorf("stand-in saw %+v, want serial %s, duration 1800, no refusal", last, leaf.Cert.SerialNumber)
			}
			if tc.chain && last.ChainLen != 1 {
				t.Errorf("stand-in saw a chain of %d, want the intermediate", last.ChainLen)
			}
		})
	}
}

// TestStandIn_TamperedRequestFails: the same client through a proxy that
// changes one byte of what it signed is refused with the service's 403.
func TestStandIn_TamperedRequestFails(t *testing.T) {
	fx := rastub.NewFixture(t, rastub.Options{})
	target, _ := url.Parse(fx.URL)
	for name, tamper := range map[string]func(*http.Request){
		"role in the query": func(r *http.Request) {
			q := r.URL.Query()
			q.Set("roleArn", strings.Replace(q.Get("roleArn"), "ra-test", "ra-tesu", 1))
			r.URL.RawQuery = q.Encode()
		},
		"a byte of the body": func(r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			b = bytes.Replace(b, []byte("1800"), []byte("1801"), 1)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		},
		"the date header": func(r *http.Request) {
			d := []byte(r.Header.Get("X-Amz-Date"))
			d[len(d)-2] ^= 1 // one second off, still within the skew
			r.Header.Set("X-Amz-Date", string(d))
		},
	} {
		t.Run(name, func(t *testing.T) {
			proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.Out.Host = pr.In.Host // as the helper signed it
				tamper(pr.Out)
			}}
			ps := httptest.NewServer(proxy)
			defer ps.Close()
			before := len(fx.Requests())
			leaf := fx.CA.Issue(rastub.LeafOptions{Key: rastub.EC})
			_, stderr, err := runHelper(t, ps.URL, leaf.Write(t.TempDir(), "leaf", rastub.PKCS8))
			if err == nil {
				t.Fatal("helper got credentials through a tampering proxy")
			}
			if !strings.Contains(stderr, "AccessDeniedException") {
				t.Errorf("helper said %q, want the service's AccessDeniedException", stderr)
			}
			reqs := fx.Requests()[before:]
			if len(reqs) == 0 || reqs[0].Status != http.StatusForbidden || reqs[0].Refusal == "" {
				t.Errorf("stand-in saw %+v, want a 403 refusal", reqs)
			}
		})
	}
}

// TestStandIn_AWSHelperRefused: what the real service refuses, the
// stand-in refuses too, as the helper shows: a leaf of another CA, an
// expired leaf.
func TestStandIn_AWSHelperRefused(t *testing.T) {
	fx := rastub.NewFixture(t, rastub.Options{})
	other := rastub.NewCA(t, "another CA")
	for name, leaf := range map[string]rastub.Leaf{
		"leaf of another CA": other.Issue(rastub.LeafOptions{}),
		"expired leaf":       fx.CA.Issue(rastub.LeafOptions{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}),
	} {
		t.Run(name, func(t *testing.T) {
			_, stderr, err := runHelper(t, fx.URL, leaf.Write(t.TempDir(), "leaf", rastub.PKCS8))
			if err == nil {
				t.Fatal("helper got credentials")
			}
			reqs := fx.Requests()
			if last := reqs[len(reqs)-1]; !strings.Contains(last.Refusal, "untrusted signing certificate") {
				t.Errorf("stand-in refused with %q, want untrusted signing certificate (helper: %s)", last.Refusal, stderr)
			}
		})
	}
}
