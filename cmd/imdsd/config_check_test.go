package main

import (
	"context"
	"github.com/imdsd/imdsd/config"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestConfigCheck(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	path := filepath.Join(t.TempDir(), "imdsd.yaml")
	cfg := "role_arn: arn:aws:iam::123456789012:role/demo\nexternal_id: flat-secret-1\nmin_remaining: 40m\n" +
		"roles:\n  web: {role_arn: arn:aws:iam::123456789012:role/web, external_id: nested-secret-2}\n" +
		"clients:\n  - {cidr: 10.1.0.0/16, role: web}\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	if code := run(context.Background(), []string{"config", "check", path}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{
		"valid; roles: demo, web (default demo)",
		`external_id: "<redacted>"  # file` + "\n",
		`min_remaining: "40m0s"  # file` + "\n",
		`imdsv2: "optional"  # default`,
		`listen: ["127.0.0.1:9254", "[::1]:9254"]  # default`,
		"roles:\n  web: {role_arn: 'arn:aws:iam::123456789012:role/web', external_id: \"<redacted>\"}",
		"clients:\n  - {cidr: 10.1.0.0/16, role: web}",
		"mfa_session_duration:", "metrics_listen:", "control_socket:", "state_file:", "rate_limit: 1024  # default",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lacks %q", want)
		}
	}
	for _, secret := range []string{"flat-secret-1", "nested-secret-2"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("printed the secret %q", secret)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out.String())
	}
	// Every key of the table is printed.
	for _, k := range config.Keys() {
		if !strings.Contains(out.String(), "\n"+k.Name+":") {
			t.Errorf("key %s not printed", k.Name)
		}
	}
}

func TestConfigCheck_Invalid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "imdsd.yaml")
	_ = os.WriteFile(path, []byte("role_arn: arn:aws:iam::123456789012:role/demo\nmfa_session_duration: 48h\n"), 0o600)
	var out, errOut strings.Builder
	code := run(context.Background(), []string{"config", "check", path}, &out, &errOut)
	if code != exitUsage || out.Len() != 0 || !strings.Contains(errOut.String(), `mfa_session_duration "48h0m0s": must be between 15m and 36h`) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}

// TestConfigCheck_AliasIsTheSameCommand runs "imdsd config check" and its
// alias "imdsd check-config" on the same inputs: both must give the same
// exit code, stdout and stderr, and together they must cover every check
// either did before they were one command: the file's mode, strict keys and
// values, validation, the roles resolved, and the flags (FILE or --config).
func TestConfigCheck_AliasIsTheSameCommand(t *testing.T) {
	dir := t.TempDir()
	// The roles are resolved against these AWS shared files, not the
	// user's own.
	empty := filepath.Join(dir, "aws-empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
	t.Setenv("AWS_PROFILE", "")
	file := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // not subject to the umask
			t.Fatal(err)
		}
		return p
	}
	const arn = "arn:aws:iam::123456789012:role/demo"
	good := file("good.yaml", "role_arn: "+arn+"\nexternal_id: alias-secret-7\nlink_local: true\n", 0o600)
	unknown := file("unknown.yaml", "rol_arn: "+arn+"\n", 0o600)
	writable := file("writable.yaml", "role_arn: "+arn+"\n", 0o660)
	missing := filepath.Join(dir, "none.yaml")
	badValue := file("badvalue.yaml", "role_arn: "+arn+"\nmfa_session_duration: 48h\n", 0o600)
	notBool := file("notbool.yaml", "link_local: yes please\n", 0o600)
	noRole := file("norole.yaml", "link_local: true\n", 0o600)
	twice := file("twice.yaml", "role_arn: "+arn+"\nroles:\n  demo: {role_arn: arn:aws:iam::123456789012:role/other}\n", 0o600)
	noProfile := file("noprofile.yaml", "profile: nowhere\n", 0o600)

	tests := []struct {
		name       string
		args       []string
		want       int
		wantOut    string // in stdout; "" means stdout must be empty
		wantErr    string // in stderr; "" means stderr must be empty
		unixOnly   bool
		noSecretIn string
	}{
		{name: "good, FILE", args: []string{good}, want: exitOK, wantOut: "# " + good + ": valid; roles: demo (default demo)\n", noSecretIn: "alias-secret-7"},
		{name: "good, --config FILE", args: []string{"--config", good}, want: exitOK, wantOut: `external_id: "<redacted>"`, noSecretIn: "alias-secret-7"},
		{name: "good, --config=FILE", args: []string{"--config=" + good}, want: exitOK, wantOut: "link_local: true  # file\n"},
		{name: "unknown key", args: []string{unknown}, want: exitUsage, wantErr: `"rol_arn": unknown key`},
		{name: "unknown key, --config", args: []string{"--config", unknown}, want: exitUsage, wantErr: `"rol_arn": unknown key`},
		{name: "group-writable file", args: []string{writable}, want: exitUsage, wantErr: "mode 0660 is writable by group or others", unixOnly: true},
		{name: "missing file", args: []string{"--config", missing}, want: exitUsage, wantErr: "imdsd config check: " + missing + ": config file: open " + missing},
		{name: "bad value", args: []string{badValue}, want: exitUsage, wantErr: `mfa_session_duration "48h0m0s": must be between 15m and 36h`},
		{name: "not a bool", args: []string{"--config", notBool}, want: exitUsage, wantErr: "link_local"},
		{name: "no role", args: []string{noRole}, want: exitUsage, wantErr: "role_arn"},
		// Found only by resolving the roles, which check-config did not do.
		{name: "role defined twice", args: []string{"--config", twice}, want: exitUsage, wantErr: `role "demo" is defined twice`},
		{name: "profile not in the AWS files", args: []string{noProfile}, want: exitUsage, wantErr: `profile "nowhere"`},
		{name: "FILE and --config", args: []string{"--config", good, good}, want: exitUsage, wantErr: "give the file once"},
		{name: "two files", args: []string{good, good}, want: exitUsage, wantErr: "unexpected argument"},
		{name: "empty file name", args: []string{"--config", ""}, want: exitUsage, wantErr: "the config file name is empty"},
		{name: "unknown flag", args: []string{"--confg", good}, want: exitUsage, wantErr: "flag provided but not defined: -confg"},
		{name: "help", args: []string{"-h"}, want: exitOK, wantErr: "usage: imdsd config check [FILE | --config FILE]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.unixOnly && runtime.GOOS == "windows" {
				t.Skip("mode bits do not describe access on Windows; the check is a no-op there")
			}
			type result struct {
				code        int
				out, errOut string
			}
			spellings := map[string][]string{
				"config check": append([]string{"config", "check"}, tc.args...),
				"check-config": append([]string{"check-config"}, tc.args...),
			}
			got := map[string]result{}
			for spelling, args := range spellings {
				var out, errOut strings.Builder
				code := run(context.Background(), args, &out, &errOut)
				got[spelling] = result{code, out.String(), errOut.String()}
			}
			main, alias := got["config check"], got["check-config"]
			if alias != main {
				t.Errorf("check-config differs from config check:\n"+
					"config check: exit %d\nstdout:\n%s\nstderr:\n%s\n"+
					"check-config: exit %d\nstdout:\n%s\nstderr:\n%s",
					main.code, main.out, main.errOut, alias.code, alias.out, alias.errOut)
			}
			if main.code != tc.want {
				t.Errorf("exit code: got %d, want %d; stderr: %s", main.code, tc.want, main.errOut)
			}
			if tc.wantOut == "" && main.out != "" || !strings.Contains(main.out, tc.wantOut) {
				t.Errorf("stdout: got %q, want it to contain %q", main.out, tc.wantOut)
			}
			if tc.wantErr == "" && main.errOut != "" || !strings.Contains(main.errOut, tc.wantErr) {
				t.Errorf("stderr: got %q, want it to contain %q", main.errOut, tc.wantErr)
			}
			if tc.noSecretIn != "" && strings.Contains(main.out+main.errOut, tc.noSecretIn) {
				t.Error("printed the external ID")
			}
		})
	}
}

// TestUsage_ConfigCheckAlias: the command list names "config check" and
// says that check-config is its alias.
func TestUsage_ConfigCheckAlias(t *testing.T) {
	var out, errOut strings.Builder
	if code := run(context.Background(), []string{"help"}, &out, &errOut); code != exitOK {
		t.Fatalf("imdsd help: exit %d", code)
	}
	var configLine, aliasLine string
	for _, l := range strings.Split(errOut.String(), "\n") {
		switch f := strings.Fields(l); {
		case len(f) > 0 && f[0] == "config":
			configLine = l
		case len(f) > 0 && f[0] == "check-config":
			aliasLine = l
		}
	}
	if !strings.Contains(configLine, "config check [FILE]") {
		t.Errorf("the config line does not name 'config check [FILE]': %q", configLine)
	}
	if !strings.Contains(aliasLine, "alias of 'config check'") {
		t.Errorf("the check-config line does not say it is an alias of config check: %q", aliasLine)
	}
}

// TestPostinstall_UsesConfigCheck: the package's postinstall tests the
// config with the documented spelling, against the AWS shared files the
// service reads.
func TestPostinstall_UsesConfigCheck(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "packaging", "scripts", "postinstall.sh"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		`/usr/bin/imdsd config check --config "$config"`,
		"AWS_SHARED_CREDENTIALS_FILE=/etc/imdsd/credentials",
		"AWS_CONFIG_FILE=/etc/imdsd/aws-config",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("postinstall.sh lacks %q", want)
		}
	}
	if strings.Contains(s, "check-config") {
		t.Error("postinstall.sh calls check-config; call 'imdsd config check'")
	}
}

// TestConfigCheck_Origins (issue 16 item 8): config check prints the
// values the daemon will use and where each came from: the file, the
// profile (its region and duration_seconds, which the file leaves unset)
// or the default; before, region and duration printed "" as defaults.
func TestConfigCheck_Origins(t *testing.T) {
	dir := t.TempDir()
	awsConfig := filepath.Join(dir, "config")
	profiles := "[profile dev]\nrole_arn = arn:aws:iam::123456789012:role/dev\nsource_profile = base\nregion = eu-west-1\nduration_seconds = 7200\n" +
		"[profile base]\nregion = us-west-2\naws_access_key_id = AKIAORIGINSTEST\naws_secret_access_key = origins-test-secret\n"
	if err := os.WriteFile(awsConfig, []byte(profiles), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", awsConfig)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	path := filepath.Join(dir, "imdsd.yaml")
	if err := os.WriteFile(path, []byte("profile: dev\nmin_remaining: 40m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	if code := run(context.Background(), []string{"config", "check", path}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{
		"\n" + `profile: "dev"  # file` + "\n",
		"\n" + `min_remaining: "40m0s"  # file` + "\n",
		"\n" + `region: "eu-west-1"  # profile dev` + "\n",
		"\n" + `duration: "2h0m0s"  # profile dev` + "\n",
		"\n" + `rate_limit: 1024  # default` + "\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lacks %q", strings.TrimSpace(want))
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out.String())
	}
}
