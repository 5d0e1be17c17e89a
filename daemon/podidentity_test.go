package daemon

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/imdsd/imdsd/access"
	"github.com/imdsd/imdsd/imds"
)

// TestPodIdentity_SDK: the EKS Pod Identity–compatible endpoint with the
// Go SDK v2 as a pod runs it: AWS_CONTAINER_CREDENTIALS_FULL_URI and
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, resolved by LoadDefaultConfig.
// The pods' addresses are loopback here (the cross-check still runs: a
// pod elsewhere is refused); the tokens are reviewed by a fake reviewer.
func TestPodIdentity_SDK(t *testing.T) {
	d := startKubeDaemon(t, nil)
	role := map[string]string{access.AnnotationRole: "app-web"}
	web := testPod("web", "127.0.0.1", role)
	plain := testPod("plain", "127.0.0.1", nil)
	far := testPod("far", "10.244.0.9", role)
	hostNet := testPod("hostnet", "10.0.0.5", role)
	hostNet.HostNetwork = true
	for _, p := range []Pod{web, plain, far, hostNet} {
		d.w.put(p)
	}
	gone := testPod("gone", "127.0.0.1", role)
	id := func(p Pod) TokenIdentity {
		return TokenIdentity{Namespace: p.Namespace, ServiceAccount: p.ServiceAccount, PodName: p.Name, PodUID: p.UID, Node: "node-1"}
	}
	d.rev.tokens = map[string]TokenIdentity{
		"tok-web": id(web), "tok-plain": id(plain), "tok-far": id(far), "tok-hostnet": id(hostNet), "tok-gone": id(gone),
		"tok-unbound": {Namespace: "team", ServiceAccount: "web"},
	}
	d.waitPool(t)

	h, err := imds.NewContainerHandler(imds.ContainerOptions{Source: d.Daemon, PodIdentity: true, Logger: d.log})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	tests := []struct {
		name, token string
		status      int    // 0: success
		message     string // in the SDK's error
	}{
		{name: "valid token: the pod's role", token: "tok-web"},
		{name: "hostNetwork pod by token, from any node address", token: "tok-hostnet"},
		{name: "no token file", token: "", status: 401, message: "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"},
		{name: "rejected token", token: "forged-or-expired", status: 401, message: "invalid, expired, for another audience"},
		{name: "valid token, no role", token: "tok-plain", status: 403, message: "no role"},
		{name: "valid token of a pod at another address", token: "tok-far", status: 403, message: "not its address"},
		{name: "token of a deleted pod", token: "tok-gone", status: 403, message: "not on this node"},
		{name: "token bound to no pod", token: "tok-unbound", status: 403, message: "not bound to a pod"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+imds.PathContainerCredentials)
			if tc.token != "" {
				f := filepath.Join(dir, tc.token)
				if err := os.WriteFile(f, []byte(tc.token), 0o600); err != nil {
					t.Fatal(err)
				}
				t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", f)
			} else {
				t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "")
			}
			// The daemon's own environment credentials must not win the chain.
			t.Setenv("AWS_ACCESS_KEY_ID", "")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "")
			cfg, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithRegion("us-east-1"),
				awsconfig.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }))
			if err != nil {
				t.Fatal(err)
			}
			creds, err := cfg.Credentials.Retrieve(context.Background())
			if tc.status == 0 {
				if err != nil || creds.AccessKeyID == "" || creds.SessionToken == "" || !creds.CanExpire || creds.AccountID != testAccount {
					t.Fatalf("got %+v, %v; want the role's credentials with account %s", creds.AccessKeyID, err, testAccount)
				}
				return
			}
			var status interface{ HTTPStatusCode() int }
			if !errors.As(err, &status) || status.HTTPStatusCode() != tc.status || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("got %v, want %d saying %q", err, tc.status, tc.message)
			}
		})
	}
	for tok := range d.rev.tokens {
		if strings.Contains(d.logs.String(), tok) {
			t.Errorf("token %q is in the logs", tok)
		}
	}
	if strings.Contains(d.logs.String(), "forged-or-expired") {
		t.Error("a rejected token is in the logs")
	}
	st := d.status().Kubernetes
	if st.TokenReviews == nil || st.TokenReviews.Calls == 0 {
		t.Errorf("status token reviews %+v, want counted", st.TokenReviews)
	}
}

// TestPodIdentity_HostNetworkNotByAddress: without a token the daemon never decides
// a hostNetwork pod by address: its address is the node's.
func TestPodIdentity_HostNetworkNotByAddress(t *testing.T) {
	d := startKubeDaemon(t, nil)
	p := testPod("hostnet", "10.0.0.5", map[string]string{access.AnnotationRole: "app-web"})
	p.HostNetwork = true
	d.w.put(p)
	_, err := d.Credentials(context.Background(), imds.Caller{Remote: netip.MustParseAddrPort("10.0.0.5:1"), Local: netip.MustParseAddrPort("169.254.169.254:80")})
	if !errors.Is(err, access.ErrNotYetIdentified) {
		t.Fatalf("got %v, want not identified (never the pod's role by the node's address)", err)
	}
	if _, err := d.Credentials(context.Background(), imds.Caller{Remote: netip.MustParseAddrPort("127.0.0.1:1"), Local: netip.MustParseAddrPort("127.0.0.1:80"), Authorization: "nope"}); !errors.Is(err, imds.ErrUnauthorized) {
		t.Fatalf("rejected token: got %v, want ErrUnauthorized", err)
	}
}
