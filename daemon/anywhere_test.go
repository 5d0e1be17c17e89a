package daemon

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	sdkimds "github.com/aws/aws-sdk-go-v2/feature/ec2/imds"

	"github.com/imdsd/imdsd/config"
	"github.com/imdsd/imdsd/imds"
	"github.com/imdsd/imdsd/internal/rastub"
	"github.com/imdsd/imdsd/internal/testutil"
	"github.com/imdsd/imdsd/roles"
)

// TestDaemon_RolesAnywhere_ServedAndRotated: a role sourced by IAM Roles
// Anywhere (the CreateSession stand-in, verifying each signature) is
// served through imdsd's IMDS to the Go SDK v2's instance-profile
// provider; the certificate and key are then replaced on disk, and the
// same running daemon (no reload, no restart: the role entry, its Def and
// the IMDS server are the ones it started with) signs its next refresh
// with the new certificate and serves the new session.
//
// The next refresh is brought forward with the role's refresher restart,
// as `imdsd mfa` does, since the refresher will not refresh an hour-long
// set for 30 minutes; what is tested is that a refresh reads the files.
func TestDaemon_RolesAnywhere_ServedAndRotated(t *testing.T) {
	fx := rastub.NewFixture(t, rastub.Options{})
	dir := t.TempDir()
	first := fx.CA.Issue(rastub.LeafOptions{CN: "host-2026", Key: rastub.RSA, NotAfter: time.Now().Add(30 * 24 * time.Hour)})
	files := first.Write(dir, "host", rastub.PKCS8)

	cfg := config.Default()
	cfg.Role = roles.Def{
		RoleARN: rastub.RoleARN, TrustAnchorARN: rastub.TrustAnchorARN, ProfileARN: rastub.ProfileARN,
		Certificate: files.Certificate, PrivateKey: files.PrivateKey, RolesAnywhereEndpoint: fx.URL,
		MinRemaining: cfg.Role.MinRemaining,
	}
	cfg.ControlSocket = "off"
	if err := cfg.Validate(func(k string) string { return k }); err != nil {
		t.Fatalf("config: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &lockedBuffer{}
	o, err := New(ctx, Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	set := o.set.Load()
	o.startRoles(ctx, set)
	defer o.stopRoles()
	e := set.byName[set.order[0]]
	<-e.refresher.Fetched()

	s, err := imds.New(imds.Options{Source: o, Region: rastub.Region, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	provider := ec2rolecreds.New(func(opts *ec2rolecreds.Options) {
		opts.Client = sdkimds.New(sdkimds.Options{Endpoint: srv.URL, EnableFallback: aws.FalseTernary})
	})
	got1, err := provider.Retrieve(ctx)
	if err != nil {
		t.Fatalf("SDK Retrieve: %v (role state %+v)", err, roleStatus(e))
	}
	if reqs := fx.Requests(); len(reqs) != 1 || reqs[0].Serial != first.Cert.SerialNumber.String() {
		t.Fatalf("stand-in saw %+v, want one session signed by serial %s", reqs, first.Cert.SerialNumber)
	}
	st := o.status().Roles[0]
	if st.Certificate == nil || st.Certificate.Subject != "CN=host-2026,O=imdsd tests" || st.Certificate.ExpiresSoon {
		t.Errorf("status certificate %+v, want CN=host-2026, not expiring soon", st.Certificate)
	}
	if st.Source != "Roles Anywhere "+rastub.TrustAnchorARN {
		t.Errorf("status source %q", st.Source)
	}
	if d := time.Until(got1.Expires); d < 55*time.Minute || d > 61*time.Minute {
		t.Errorf("SDK got expiry in %s, want the session's hour", d)
	}

	// Rotate: a new certificate (EC this time, 3 days left) and key,
	// renamed over the same paths.
	second := fx.CA.Issue(rastub.LeafOptions{CN: "host-2027", Key: rastub.EC, NotAfter: time.Now().Add(72 * time.Hour)})
	second.Write(dir, "host", rastub.SEC1)
	e.restart(ctx)
	testutil.WaitFor(t, 30*time.Second, func() bool {
		snap := e.refresher.Snapshot()
		return snap.Fetches >= 2 && snap.Err == nil && snap.Credentials.AccessKeyID != got1.AccessKeyID
	}, "the refresh after rotation")
	got2, err := provider.Retrieve(ctx)
	if err != nil {
		t.Fatalf("SDK Retrieve after rotation: %v", err)
	}
	if got2.AccessKeyID == got1.AccessKeyID {
		t.Errorf("SDK still gets %s after the rotation", got1.AccessKeyID)
	}
	reqs := fx.Requests()
	if last := reqs[len(reqs)-1]; last.Serial != second.Cert.SerialNumber.String() || last.Algorithm != "AWS4-X509-ECDSA-SHA256" {
		t.Errorf("stand-in saw %+v last, want the new serial %s signed with ECDSA", last, second.Cert.SerialNumber)
	}
	if o.set.Load() != set || set.byName[set.order[0]] != e {
		t.Error("the role set was replaced: the rotation must need no reload")
	}
	st = o.status().Roles[0]
	if st.Certificate == nil || st.Certificate.Serial != second.Cert.SerialNumber.String() || !st.Certificate.ExpiresSoon {
		t.Errorf("status certificate %+v, want the new one, flagged as expiring soon", st.Certificate)
	}
	// Neither session's secrets reach the log; nor does the key file's PEM.
	if !strings.Contains(logs.String(), "ra-test") {
		t.Fatalf("the daemon logged nothing of the role, so the check below is empty:\n%s", logs.String())
	}
	for _, c := range []aws.Credentials{got1, got2} {
		if text := logs.String(); strings.Contains(text, c.SecretAccessKey) || strings.Contains(text, c.SessionToken) || strings.Contains(text, "PRIVATE KEY") {
			t.Errorf("the log shows a session's secret:\n%s", text)
		}
	}
	samples := o.roleSamples()
	if len(samples) != 1 || !samples[0].CertificateExpires.Equal(second.Cert.NotAfter) {
		t.Errorf("metrics sample %+v, want the new certificate's end %s", samples, second.Cert.NotAfter)
	}
}
