package imds

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	sdkimds "github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// newHTTPServer serves h over a real loopback socket for SDK clients.
func newHTTPServer(tb testing.TB, h http.Handler) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv
}

func sdkClient(url string, v1 bool) *sdkimds.Client {
	return sdkimds.New(sdkimds.Options{
		Endpoint: url,
		EnableFallback: func() aws.Ternary {
			if v1 {
				return aws.TrueTernary
			}
			return aws.FalseTernary
		}(),
	})
}

// TestSDK_EC2RoleCreds proves the token handshake, the paths and the JSON
// with aws-sdk-go-v2's own instance-profile provider, in both IMDSv2 modes.
func TestSDK_EC2RoleCreds(t *testing.T) {
	for _, required := range []bool{false, true} {
		name := "optional"
		if required {
			name = "required"
		}
		t.Run(name, func(t *testing.T) {
			creds := testCreds(time.Now())
			s, _ := newTestServer(t, Options{Source: staticSource(Role{Name: "demo", Credentials: creds}, nil), TokenRequired: required, Now: time.Now})
			srv := newHTTPServer(t, s)
			p := ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = sdkClient(srv.URL, false) })
			got, err := p.Retrieve(context.Background())
			if err != nil {
				t.Fatalf("Retrieve: %v", err)
			}
			if got.AccessKeyID != creds.AccessKeyID || got.SecretAccessKey != creds.SecretAccessKey || got.SessionToken != creds.SessionToken {
				t.Errorf("Retrieve returned other credentials (key %q)", got.AccessKeyID)
			}
			if !got.CanExpire || !got.Expires.Equal(creds.Expires.Truncate(time.Second)) {
				t.Errorf("Expires = %v, want the served expiry %v", got.Expires, creds.Expires.Truncate(time.Second))
			}
		})
	}
}

func TestSDK_MetadataOperations(t *testing.T) {
	creds := testCreds(time.Now())
	s, _ := newTestServer(t, Options{Source: staticSource(Role{Name: "demo", Credentials: creds}, nil), Region: "sa-east-1", TokenRequired: true, Now: time.Now})
	srv := newHTTPServer(t, s)
	c := sdkClient(srv.URL, false)
	ctx := context.Background()

	region, err := c.GetRegion(ctx, nil)
	if err != nil || region.Region != "sa-east-1" {
		t.Errorf("GetRegion = %+v, %v; want sa-east-1", region, err)
	}
	info, err := c.GetIAMInfo(ctx, nil)
	if err != nil || info.InstanceProfileArn != "arn:aws:iam::123456789012:instance-profile/demo" || info.LastUpdated.IsZero() {
		t.Errorf("GetIAMInfo = %+v, %v", info, err)
	}
	doc, err := c.GetInstanceIdentityDocument(ctx, nil)
	if err != nil || doc.AvailabilityZone != "sa-east-1a" || doc.InstanceID != "i-0123456789abcdef0" || doc.PendingTime.IsZero() {
		t.Errorf("GetInstanceIdentityDocument = %+v, %v", doc, err)
	}
	md, err := c.GetMetadata(ctx, &sdkimds.GetMetadataInput{Path: "placement/availability-zone"})
	if err != nil {
		t.Fatalf("GetMetadata: %v", err)
	}
	b, _ := io.ReadAll(md.Content)
	if string(b) != "sa-east-1a" {
		t.Errorf("availability-zone = %q, want sa-east-1a", b)
	}
}

// TestSDK_TokenFromRestartedDaemon: after imdsd restarts (new token key),
// the SDK's cached token gets 401; the SDK then fetches a new token and
// retries, so the caller never sees the restart.
func TestSDK_TokenFromRestartedDaemon(t *testing.T) {
	creds := testCreds(time.Now())
	src := staticSource(Role{Name: "demo", Credentials: creds}, nil)
	first, _ := newTestServer(t, Options{Source: src, TokenRequired: true, Now: time.Now})
	second, _ := newTestServer(t, Options{Source: src, TokenRequired: true, Now: time.Now})
	var current atomic.Pointer[Server]
	current.Store(first)
	var puts atomic.Int32
	srv := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			puts.Add(1)
		}
		current.Load().ServeHTTP(w, r)
	}))
	c := sdkClient(srv.URL, false)
	ctx := context.Background()
	if _, err := c.GetRegion(ctx, nil); err != nil {
		t.Fatalf("first GetRegion: %v", err)
	}
	current.Store(second)
	if _, err := c.GetRegion(ctx, nil); err != nil {
		t.Fatalf("GetRegion after restart: %v", err)
	}
	if n := puts.Load(); n != 2 {
		t.Errorf("token PUTs = %d, want 2 (one new token after the 401)", n)
	}
}

func TestHTTP_HeadHasNoBody(t *testing.T) {
	s, _ := newTestServer(t, Options{Source: staticSource(Role{}, ErrNoRole), Now: time.Now})
	srv := newHTTPServer(t, s)
	req, _ := http.NewRequest(http.MethodHead, srv.URL+PathInstanceID, nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || len(b) != 0 || resp.ContentLength != int64(len("i-0123456789abcdef0")) {
		t.Errorf("HEAD: status %d, body %q, Content-Length %d", resp.StatusCode, b, resp.ContentLength)
	}
}
