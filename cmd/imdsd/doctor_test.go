package main

import (
	"github.com/imdsd/imdsd/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imdsd/imdsd/internal/testproc"
)

// opsNetns creates a network namespace with only loopback, up; the test's
// cleanup deletes it. Doctor's route check is about 169.254.169.254 being
// an address of the machine, so it is tested where the test decides that.
func opsNetns(t *testing.T) (name string, wrap []string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the doctor test creates a network namespace: run it as root (CI does)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("ip not found: apt-get install iproute2")
	}
	name = "imdsd-doctor-" + strconv.Itoa(os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v: %s", err, out)
	}
	return name, []string{"ip", "netns", "exec", name}
}

// opsMotoIn runs moto_server in the namespace on 127.0.0.1:5000.
func opsMotoIn(t *testing.T, wrap []string) string {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		t.Fatal("moto_server not found on PATH: pip install 'moto[server]'")
	}
	argv := append(append([]string(nil), wrap...), bin, "-H", "127.0.0.1", "-p", "5000")
	cmd := exec.Command(argv[0], argv[1:]...)
	testproc.NewGroup(cmd)
	moto, err := testproc.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(moto.Kill)
	probe := append(append([]string(nil), wrap...), "python3", "-c",
		"import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/moto-api/', timeout=1)")
	if !testutil.Until(30*time.Second, 200*time.Millisecond, func() bool { return exec.Command(probe[0], probe[1:]...).Run() == nil }) {
		t.Fatalf("moto_server did not start in the namespace:\n%s", moto.Out)
	}
	return "http://127.0.0.1:5000"
}

// doctorIn runs `imdsd doctor` in the namespace with a clean environment
// plus extra.
func doctorIn(t *testing.T, wrap []string, bin, socket string, extra ...string) (int, string) {
	t.Helper()
	argv := append(append([]string(nil), wrap...), bin, "doctor", "--socket", socket)
	cmd := exec.Command(argv[0], argv[1:]...)
	var env []string
	for _, kv := range opsEnv(t.TempDir()) {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, extra...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run doctor: %v", err)
	}
	return code, string(out)
}

// TestDoctor_Faults sets up each fault doctor names for real, in a network
// namespace of the test: 169.254.169.254 missing, then present and served;
// a proxy variable that would capture it; IMDS disabled in the
// environment; the daemon stopped.
func TestDoctor_Faults(t *testing.T) {
	ns, wrap := opsNetns(t)
	bin := buildImdsd(t)
	stsURL := opsMotoIn(t, wrap)
	d := startOpsDaemonIn(t, wrap, 9254, bin, stsURL, "role_arn: "+opsRoleARN)
	d.waitRole(t, "demo", "fresh")

	expect := func(t *testing.T, code int, out string, wantCode int, want ...string) {
		t.Helper()
		if code != wantCode {
			t.Errorf("exit %d, want %d", code, wantCode)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q", w)
			}
		}
		if t.Failed() {
			t.Logf("doctor output:\n%s", out)
		}
	}
	t.Run("missing route", func(t *testing.T) {
		code, out := doctorIn(t, wrap, bin, d.socket)
		expect(t, code, out, exitError,
			"[ ok ] daemon reachable: imdsd",
			"[FAIL] 169.254.169.254 routed to imdsd: 169.254.169.254 is not an address of this machine",
			"fix: set link_local: true in the config",
			"[ ok ] IMDSv2 token round trip",
			"[ ok ] default role credentials: role demo, credentials valid for",
			"[ ok ] clock against STS",
			"1 check(s) failed")
	})
	// The route: 169.254.169.254 on loopback, and the daemon serving there.
	if out, err := exec.Command("ip", "-n", ns, "addr", "add", "169.254.169.254/32", "dev", "lo").CombinedOutput(); err != nil {
		t.Fatalf("add 169.254.169.254: %v: %s", err, out)
	}
	d.stop(t)
	d.extraListen = []string{"169.254.169.254:80"}
	d.writeConfig(t, stsURL, "role_arn: "+opsRoleARN)
	d.start(t)
	d.waitRole(t, "demo", "fresh")
	t.Run("all pass", func(t *testing.T) {
		code, out := doctorIn(t, wrap, bin, d.socket)
		expect(t, code, out, exitOK, "[ ok ] 169.254.169.254 routed to imdsd: http://169.254.169.254 is imdsd", "all checks passed")
	})
	t.Run("wrong proxy variable", func(t *testing.T) {
		code, out := doctorIn(t, wrap, bin, d.socket, "http_proxy=http://127.0.0.1:3128", "NO_PROXY=localhost")
		expect(t, code, out, exitError,
			"[FAIL] proxy variables: http_proxy=http://127.0.0.1:3128 sends requests for 169.254.169.254 to the proxy",
			`fix: exempt the metadata addresses: export NO_PROXY="$NO_PROXY,169.254.169.254"`)
		code, out = doctorIn(t, wrap, bin, d.socket, "http_proxy=http://127.0.0.1:3128", "NO_PROXY=localhost,169.254.169.254")
		expect(t, code, out, exitOK, "[ ok ] proxy variables")
	})
	t.Run("IMDS disabled", func(t *testing.T) {
		code, out := doctorIn(t, wrap, bin, d.socket, "AWS_EC2_METADATA_DISABLED=true")
		expect(t, code, out, exitError, "[FAIL] SDK environment: AWS_EC2_METADATA_DISABLED=true stops every SDK", "fix: 'imdsd env'")
	})
	t.Run("container rules", func(t *testing.T) {
		if _, err := exec.LookPath("nft"); err != nil {
			t.Fatal("nft not found: apt-get install nftables")
		}
		for _, args := range [][]string{
			{"link", "add", "br-imdsdt", "type", "bridge"},
			{"addr", "add", "10.99.0.1/24", "dev", "br-imdsdt"},
			{"link", "set", "br-imdsdt", "up"},
		} {
			if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
				t.Fatalf("ip %v: %v: %s", args, err, out)
			}
		}
		code, out := doctorIn(t, wrap, bin, d.socket)
		expect(t, code, out, exitOK, "[skip] container rules: containers are off in the daemon's config")
		d.stop(t)
		d.writeConfig(t, stsURL, "role_arn: "+opsRoleARN, "containers:", "  enabled: true",
			"  docker_socket: ["+filepath.Join(d.dir, "no-engine.sock")+"]")
		d.start(t)
		d.waitRole(t, "demo", "fresh")
		code, out = doctorIn(t, wrap, bin, d.socket)
		expect(t, code, out, exitOK, "[ ok ] container rules: table inet imdsd: 2 rule(s) for bridges br-imdsdt")
		// The fault: the table deleted from outside. The daemon puts it
		// back within seconds; doctor run right after the deletion sees
		// it missing (tried a few times in case a repair came first).
		for try := 0; ; try++ {
			if out, err := exec.Command("ip", "netns", "exec", ns, "nft", "delete", "table", "inet", "imdsd").CombinedOutput(); err != nil {
				t.Fatalf("nft delete table: %v: %s", err, out)
			}
			code, out = doctorIn(t, wrap, bin, d.socket)
			if code != exitOK || try == 4 {
				break
			}
			time.Sleep(2500 * time.Millisecond) // let the repair come, then delete again
		}
		expect(t, code, out, exitError, "[FAIL] container rules: container networks exist but imdsd's DNAT rules are missing: no table inet imdsd (bridges: br-imdsdt)",
			"fix: check the daemon's log for nftables errors")
	})
	t.Run("stopped daemon", func(t *testing.T) {
		d.stop(t)
		code, out := doctorIn(t, wrap, bin, d.socket)
		expect(t, code, out, exitError, "[FAIL] daemon reachable: imdsd is not running", "fix: start it: 'imdsd start'")
	})
}
