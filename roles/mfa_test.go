package roles

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/imdsd/imdsd/internal/motoserver"
)

const testSerial = "arn:aws:iam::123456789012:mfa/dev-user"

func TestMFASession_AssumeWithoutAskingAgain(t *testing.T) {
	moto := motoserver.Start(t)
	isolateAWSEnv(t, "[profile dev]\nrole_arn = arn:aws:iam::123456789012:role/mfa-role\nsource_profile = base\nmfa_serial = "+testSerial+"\nrole_session_name = mfa-test\n",
		"[base]\naws_access_key_id = AKIAEXAMPLESOURCE02\naws_secret_access_key = source-secret\n")
	ctx := context.Background()

	r, m, ok, err := ResolveMFA(ctx, Spec{Def: Def{Profile: "dev", STSEndpoint: moto.URL}}, "", 0, nil)
	if err != nil || !ok {
		t.Fatalf("ResolveMFA: ok %v, %v; want a role that needs MFA", ok, err)
	}
	if r.Name != "mfa-role" || m.Serial() != testSerial {
		t.Fatalf("got role %q serial %q", r.Name, m.Serial())
	}
	// Before a code: the fetch fails at once, without calling STS.
	if _, err := r.Fetcher.Fetch(ctx); !errors.Is(err, ErrMFARequired) {
		t.Fatalf("Fetch before mfa: got %v, want ErrMFARequired", err)
	}
	if n := moto.STSCalls(); n != 0 {
		t.Fatalf("STS calls before mfa = %d, want 0", n)
	}
	before := time.Now()
	exp, err := m.Start(ctx, "123456")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if left := exp.Sub(before); left < DefaultMFASessionDuration-time.Minute || left > DefaultMFASessionDuration+time.Minute {
		t.Errorf("MFA session lasts %s, want %s", left, DefaultMFASessionDuration)
	}
	// Three refreshes: three AssumeRole calls, no second GetSessionToken.
	for i := range 3 {
		c, err := r.Fetcher.Fetch(ctx)
		if err != nil {
			t.Fatalf("Fetch %d: %v", i, err)
		}
		if i == 0 {
			if got, want := callerARN(t, moto.URL, c), "arn:aws:sts::123456789012:assumed-role/mfa-role/mfa-test"; got != want {
				t.Errorf("caller = %q, want %q", got, want)
			}
		}
	}
	if n := moto.STSCalls(); n != 1+3+1 {
		t.Errorf("STS calls = %d, want 5 (one GetSessionToken, three AssumeRole, one GetCallerIdentity)", n)
	}
	// Resolving again with the session at hand (a config reload) keeps it:
	// the role is served with no new code.
	r2, m2, ok, err := ResolveMFA(ctx, Spec{Def: Def{Profile: "dev", STSEndpoint: moto.URL, SessionName: "after-reload"}}, "", 0,
		map[string]*MFASession{m.Key(): m})
	if err != nil || !ok || m2 != m {
		t.Fatalf("ResolveMFA with the session: same session %v, ok %v, %v", m2 == m, ok, err)
	}
	c, err := r2.Fetcher.Fetch(ctx)
	if err != nil {
		t.Fatalf("Fetch after reload: %v", err)
	}
	if got, want := callerARN(t, moto.URL, c), "arn:aws:sts::123456789012:assumed-role/mfa-role/after-reload"; got != want {
		t.Errorf("caller after reload = %q, want %q", got, want)
	}
}

func TestResolveMFA_NotNeeded(t *testing.T) {
	isolateAWSEnv(t, "[profile plain]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = base\n", "[base]\naws_access_key_id = AKIAEXAMPLESOURCE03\naws_secret_access_key = x\n")
	_, _, ok, err := ResolveMFA(context.Background(), Spec{Def: Def{Profile: "plain"}}, "", 0, nil)
	if err != nil || ok {
		t.Fatalf("got ok %v, %v; want a role that needs no MFA", ok, err)
	}
}

func TestNewMFASession_Duration(t *testing.T) {
	isolateAWSEnv(t, "", "")
	for _, d := range []time.Duration{time.Minute, 37 * time.Hour} {
		if _, err := NewMFASession(context.Background(), MFAOptions{Serial: testSerial, Duration: d}); !errors.Is(err, ErrInvalidMFADuration) {
			t.Errorf("duration %s: got %v, want ErrInvalidMFADuration", d, err)
		}
	}
}
