package daemon

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"testing"

	"github.com/imdsd/imdsd/access"
	"github.com/imdsd/imdsd/config"
	"github.com/imdsd/imdsd/imds"
	"github.com/imdsd/imdsd/internal/testutil"
	"github.com/imdsd/imdsd/peercred"
)

// TestStatus_ClientsPerLocalUser (issue 16 item 7): clients served through
// user_roles are listed in status, one row per local user, although both
// users connect from 127.0.0.1, and each row names the caller as the audit
// log does (uid=N). Before, several local users were one row keyed by the
// address. Two real users run curl against the real imds server with the
// daemon as its source.
func TestStatus_ClientsPerLocalUser(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("this test runs curl as two local users: install curl")
	}
	alice, bob := testutil.AddUser(t), testutil.AddUser(t)
	o := fakeOps(t, "", "dev", "web")
	cfg := config.Config{Security: config.Security{Users: config.Users{UserRoles: []config.UserRole{
		{User: alice.Name, Role: "web"}, {User: bob.Name, Role: "dev"},
	}}}}
	policy, err := newPolicy(cfg, []string{"dev", "web"}, access.SystemUsers{}, o.log)
	if err != nil {
		t.Fatal(err)
	}
	o.policy.Store(policy)

	srv, err := imds.New(imds.Options{Source: o, Region: "us-east-1", Logger: o.log, ConnIdentity: peercred.Identity})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })

	fetch := func(u testutil.User, role string) {
		t.Helper()
		url := fmt.Sprintf("http://%s/latest/meta-data/iam/security-credentials/%s", ln.Addr(), role)
		cmd := exec.Command(curl, "-fsS", "--max-time", "10", "-o", "/dev/null", url)
		cmd.SysProcAttr = u.Cred()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("curl as %s (uid %d) for %s: %v\n%s", u.Name, u.UID, role, err, out)
		}
	}
	fetch(alice, "web")
	fetch(alice, "web")
	fetch(bob, "dev")

	got := map[string]string{}
	for _, c := range o.status().Clients {
		got[c.Caller] = fmt.Sprintf("%s %s %d", c.Address, c.Role, c.Requests)
		if c.UID == nil {
			t.Errorf("client %+v: no uid", c)
		}
	}
	want := map[string]string{
		fmt.Sprintf("uid=%d", alice.UID): "127.0.0.1 web 2",
		fmt.Sprintf("uid=%d", bob.UID):   "127.0.0.1 dev 1",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("status clients by caller = %v, want %v", got, want)
	}
	if n := o.clientCount(); n != 2 {
		t.Errorf("clientCount (the metrics' imdsd_clients) = %d, want 2", n)
	}
}
