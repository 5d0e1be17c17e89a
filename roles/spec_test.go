package roles

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/imdsd/imdsd/internal/motoserver"
)

// isolateAWSEnv points the SDK at config files of the test's own and
// clears every AWS_* variable, so nothing on the machine leaks in.
func isolateAWSEnv(t *testing.T, config, creds string) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	dir := t.TempDir()
	cfgPath, credPath := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(credPath, []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfgPath)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credPath)
}

// callerARN asks moto who the given credentials belong to.
func callerARN(t *testing.T, moto string, c aws.Credentials) string {
	t.Helper()
	client := sts.New(sts.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(moto),
		Credentials:  credentials.StaticCredentialsProvider{Value: c},
	})
	out, err := client.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	return aws.ToString(out.Arn)
}

func TestResolve_RoleARNFromDefaultChain(t *testing.T) {
	moto := motoserver.Start(t)
	isolateAWSEnv(t, "", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLESOURCE01")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "source-secret")

	r, err := Resolve(context.Background(), Spec{Def: Def{
		RoleARN:     "arn:aws:iam::123456789012:role/path/to/app-role",
		STSEndpoint: moto.URL,
		SessionName: "unit-test",
	}})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if r.Name != "app-role" || r.AccountID != "123456789012" || r.Region != FallbackRegion {
		t.Errorf("Resolved = name %q account %q region %q", r.Name, r.AccountID, r.Region)
	}
	before := time.Now()
	c, err := r.Fetcher.Fetch(context.Background())
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	// The default session length is one hour, not stscreds' 15 minutes.
	if left := c.Expires.Sub(before); left < 59*time.Minute || left > 61*time.Minute {
		t.Errorf("credentials last %s, want 1h", left)
	}
	if got, want := callerARN(t, moto.URL, c), "arn:aws:sts::123456789012:assumed-role/app-role/unit-test"; got != want {
		t.Errorf("caller = %q, want %q", got, want)
	}
	if n := moto.STSCalls(); n != 2 {
		t.Errorf("STS calls = %d, want 2 (one AssumeRole, one GetCallerIdentity)", n)
	}
}

func TestResolve_RoleProfileLikeTheCLI(t *testing.T) {
	moto := motoserver.Start(t)
	isolateAWSEnv(t, `
[profile app]
role_arn = arn:aws:iam::210987654321:role/cli-role
source_profile = base
external_id = ext-id-123
duration_seconds = 7200
role_session_name = from-profile
region = eu-west-3
`, `
[base]
aws_access_key_id = AKIAEXAMPLEBASE0001
aws_secret_access_key = base-secret
`)
	r, err := Resolve(context.Background(), Spec{Def: Def{Profile: "app", STSEndpoint: moto.URL}})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if r.Name != "cli-role" || r.ARN != "arn:aws:iam::210987654321:role/cli-role" || r.Region != "eu-west-3" || r.Source != "profile base" {
		t.Errorf("Resolved = %+v", r)
	}
	before := time.Now()
	c, err := r.Fetcher.Fetch(context.Background())
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if left := c.Expires.Sub(before); left < 119*time.Minute || left > 121*time.Minute {
		t.Errorf("credentials last %s, want duration_seconds = 2h", left)
	}
	if got, want := callerARN(t, moto.URL, c), "arn:aws:sts::210987654321:assumed-role/cli-role/from-profile"; got != want {
		t.Errorf("caller = %q, want %q", got, want)
	}
}

func TestResolve_FlagsOverrideProfile(t *testing.T) {
	moto := motoserver.Start(t)
	isolateAWSEnv(t, "[profile app]\nrole_arn = arn:aws:iam::210987654321:role/cli-role\nsource_profile = base\nrole_session_name = from-profile\n",
		"[base]\naws_access_key_id = AKIAEXAMPLEBASE0001\naws_secret_access_key = base-secret\n")
	r, err := Resolve(context.Background(), Spec{Def: Def{Profile: "app", STSEndpoint: moto.URL, SessionName: "from-flag", Duration: 30 * time.Minute}})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	before := time.Now()
	c, err := r.Fetcher.Fetch(context.Background())
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if left := c.Expires.Sub(before); left < 29*time.Minute || left > 31*time.Minute {
		t.Errorf("credentials last %s, want the flag's 30m", left)
	}
	if got := callerARN(t, moto.URL, c); !strings.HasSuffix(got, "/cli-role/from-flag") {
		t.Errorf("caller = %q, want session name from-flag", got)
	}
}

func TestResolve_SSOProfileNamesItsRole(t *testing.T) {
	isolateAWSEnv(t, `
[profile dev]
sso_start_url = https://example.awsapps.com/start
sso_region = us-east-1
sso_account_id = 111122223333
sso_role_name = Developer
region = us-west-2
`, "")
	r, err := Resolve(context.Background(), Spec{Def: Def{Profile: "dev"}})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if r.Name != "Developer" || r.AccountID != "111122223333" || r.Region != "us-west-2" || r.ARN != "" {
		t.Errorf("Resolved = %+v, want role Developer in 111122223333", r)
	}
}

func TestResolve_Errors(t *testing.T) {
	isolateAWSEnv(t, "[profile plain]\nregion = us-east-1\n", "")
	tests := []struct {
		name string
		spec Spec
		want string
		is   error
	}{
		{"nothing", Spec{}, "no role to serve", ErrNoRoleConfigured},
		{"profile without role", Spec{Def: Def{Profile: "plain"}}, "no role to serve", ErrNoRoleConfigured},
		{"missing profile", Spec{Def: Def{Profile: "nope"}}, `profile "nope"`, nil},
		{"bad arn", Spec{Def: Def{RoleARN: "arn:aws:iam::1:user/x"}}, "not an IAM role ARN", ErrInvalidARN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Resolve(context.Background(), tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.is)
			}
		})
	}
}

// TestResolve_NoSourceCredentials: with nothing to assume the role from, a
// fetch fails with an error that says so, and never reaches for an IMDS
// (which could be imdsd itself).
func TestResolve_NoSourceCredentials(t *testing.T) {
	moto := motoserver.Start(t)
	isolateAWSEnv(t, "", "")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1/")
	r, err := Resolve(context.Background(), Spec{Def: Def{RoleARN: "arn:aws:iam::123456789012:role/x", STSEndpoint: moto.URL}})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = r.Fetcher.Fetch(ctx)
	if err == nil {
		t.Fatal("Fetch without source credentials succeeded")
	}
	if strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("the source chain asked an IMDS: %v", err)
	}
}

func TestValidation(t *testing.T) {
	good := map[string]func() error{
		"arn":           func() error { return ValidateARN("arn:aws:iam::123456789012:role/a") },
		"arn path":      func() error { return ValidateARN("arn:aws:iam::123456789012:role/p/q/Name+=,.@-_") },
		"arn china":     func() error { return ValidateARN("arn:aws-cn:iam::123456789012:role/a") },
		"arn gov":       func() error { return ValidateARN("arn:aws-us-gov:iam::123456789012:role/a") },
		"session":       func() error { return ValidateSessionName("ab") },
		"external id":   func() error { return ValidateExternalID("a:b/c") },
		"duration min":  func() error { return ValidateDuration(15 * time.Minute) },
		"duration max":  func() error { return ValidateDuration(12 * time.Hour) },
		"endpoint":      func() error { return ValidateEndpoint("https://sts.us-east-1.amazonaws.com") },
		"endpoint http": func() error { return ValidateEndpoint("http://127.0.0.1:5000") },
	}
	for name, f := range good {
		if err := f(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := map[string]func() error{
		"arn user":        func() error { return ValidateARN("arn:aws:iam::123456789012:user/a") },
		"arn short acct":  func() error { return ValidateARN("arn:aws:iam::12345:role/a") },
		"arn empty name":  func() error { return ValidateARN("arn:aws:iam::123456789012:role/") },
		"arn space":       func() error { return ValidateARN("arn:aws:iam::123456789012:role/a b") },
		"session short":   func() error { return ValidateSessionName("a") },
		"session long":    func() error { return ValidateSessionName(strings.Repeat("a", 65)) },
		"session space":   func() error { return ValidateSessionName("a b") },
		"external short":  func() error { return ValidateExternalID("a") },
		"duration short":  func() error { return ValidateDuration(14 * time.Minute) },
		"duration long":   func() error { return ValidateDuration(13 * time.Hour) },
		"duration frac":   func() error { return ValidateDuration(time.Hour + time.Millisecond) },
		"endpoint scheme": func() error { return ValidateEndpoint("ftp://x") },
		"endpoint nohost": func() error { return ValidateEndpoint("http://") },
		"endpoint user":   func() error { return ValidateEndpoint("http://u:p@x") },
	}
	for name, f := range bad {
		if err := f(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := ValidateExternalID("x"); strings.Contains(err.Error(), `"x"`) {
		t.Errorf("external ID error echoes the value: %v", err)
	}
	if got := DefaultSessionName(); ValidateSessionName(got) != nil {
		t.Errorf("DefaultSessionName() = %q is not a valid session name", got)
	}
}
