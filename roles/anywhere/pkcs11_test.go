//go:build cgo && unix

package anywhere_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imdsd/imdsd/internal/rastub"
	"github.com/imdsd/imdsd/roles/anywhere"
)

// softHSMModule is Debian's SoftHSM v2 module (package softhsm2).
const softHSMModule = "/usr/lib/softhsm/libsofthsm2.so"

// softHSM makes a SoftHSM token labelled imdsd in a new directory, with
// the user PIN in a 0600 file, and returns the PIN file.
func softHSM(t *testing.T) (dir, pinFile string) {
	t.Helper()
	if _, err := exec.LookPath("softhsm2-util"); err != nil {
		t.Fatal("softhsm2-util not found: install SoftHSM v2 (apt-get install softhsm2) for the PKCS#11 tests")
	}
	if _, err := os.Stat(softHSMModule); err != nil {
		t.Fatalf("%s not found: install SoftHSM v2 (apt-get install softhsm2)", softHSMModule)
	}
	dir = t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	run(t, "softhsm2-util", "--init-token", "--free", "--label", "imdsd", "--pin", "1234", "--so-pin", "5678")
	pinFile = filepath.Join(dir, "pin")
	if err := os.WriteFile(pinFile, []byte("1234\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, pinFile
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// TestCreateSession_PKCS11: a key kept in a PKCS#11 token (SoftHSM) signs
// CreateSession, RSA and EC, and the stand-in verifies it; a wrong PIN, a
// missing key and a token key of another certificate are refused by key.
func TestCreateSession_PKCS11(t *testing.T) {
	fx := rastub.NewFixture(t, rastub.Options{})
	dir, pin := softHSM(t)
	for i, tc := range []struct {
		name string
		key  rastub.KeyType
		alg  string
	}{{"RSA", rastub.RSA, anywhere.AlgorithmRSA}, {"EC", rastub.EC, anywhere.AlgorithmECDSA}} {
		t.Run(tc.name, func(t *testing.T) {
			leaf := fx.CA.Issue(rastub.LeafOptions{Key: tc.key})
			f := leaf.Write(dir, tc.name, rastub.PKCS8)
			label := "host-" + tc.name
			run(t, "softhsm2-util", "--import", f.PrivateKey, "--token", "imdsd", "--label", label, "--id", []string{"01", "02"}[i], "--pin", "1234")
			uri := "pkcs11:token=imdsd;object=" + label + "?module-path=" + softHSMModule + "&pin-source=" + pin
			var checked []string
			id, err := anywhere.Load(anywhere.Paths{Certificate: f.Certificate, PrivateKey: uri, CheckKey: func(p string) error { checked = append(checked, p); return nil }})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			c := anywhere.Client{Endpoint: fx.URL, Region: rastub.Region}
			_, err = c.CreateSession(context.Background(), id, input())
			id.Close()
			if err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
			reqs := fx.Requests()
			if last := reqs[len(reqs)-1]; last.Algorithm != tc.alg || last.Serial != leaf.Cert.SerialNumber.String() {
				t.Errorf("stand-in saw %+v, want %s by serial %s", last, tc.alg, leaf.Cert.SerialNumber)
			}
			if len(checked) != 1 || checked[0] != pin {
				t.Errorf("checked %v, want the pin-source file", checked)
			}
		})
	}
	other := fx.CA.Issue(rastub.LeafOptions{Key: rastub.EC}).Write(dir, "other", rastub.PKCS8)
	wrongPIN := filepath.Join(dir, "wrong-pin")
	if err := os.WriteFile(wrongPIN, []byte("9999"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		uri  string
		want error
	}{
		"key of another certificate": {"pkcs11:token=imdsd;object=host-EC?module-path=" + softHSMModule + "&pin-source=" + pin, anywhere.ErrKeyMismatch},
		"no such key":                {"pkcs11:token=imdsd;object=nope?module-path=" + softHSMModule + "&pin-source=" + pin, nil},
		"wrong PIN":                  {"pkcs11:token=imdsd;object=host-EC?module-path=" + softHSMModule + "&pin-source=" + wrongPIN, nil},
		"PIN in the URI":             {"pkcs11:token=imdsd;object=host-EC;pin-value=1234?module-path=" + softHSMModule, anywhere.ErrPKCS11PIN},
		"no module":                  {"pkcs11:token=imdsd;object=host-EC", anywhere.ErrBadPKCS11URI},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := anywhere.Load(anywhere.Paths{Certificate: other.Certificate, PrivateKey: tc.uri})
			var fe *anywhere.FileError
			if !errors.As(err, &fe) || fe.Key != anywhere.KeyPrivateKey || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("got %v, want a private_key error %v", err, tc.want)
			}
			if name == "PIN in the URI" && strings.Contains(err.Error(), "1234") {
				t.Errorf("error shows the PIN: %v", err)
			}
		})
	}
}
