package roles

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/imdsd/imdsd/roles/anywhere"
)

// anywhereTimeout bounds one CreateSession call, below the refresher's
// own fetch timeout.
const anywhereTimeout = 30 * time.Second

// CertificateWatch keeps what the last refresh read of a Roles Anywhere
// role's certificate, for status, doctor and metrics.
type CertificateWatch struct {
	mu   sync.Mutex
	info anywhere.CertInfo
	ok   bool
}

// Last returns the certificate the last refresh read; false before one
// did.
func (w *CertificateWatch) Last() (anywhere.CertInfo, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.info, w.ok
}

func (w *CertificateWatch) set(i anywhere.CertInfo) {
	w.mu.Lock()
	w.info, w.ok = i, true
	w.mu.Unlock()
}

// resolveAnywhere builds the Fetcher of a role sourced by IAM Roles
// Anywhere. The certificate, chain and key are read again at every
// fetch, so a rotated certificate is used at the next refresh.
func resolveAnywhere(spec Spec) (Resolved, error) {
	if err := ValidateARN(spec.RoleARN); err != nil {
		return Resolved{}, err
	}
	region, err := anywhere.Region(spec.TrustAnchorARN, spec.ProfileARN)
	if err != nil {
		return Resolved{}, err
	}
	if spec.Region != "" && spec.Region != region {
		return Resolved{}, fmt.Errorf("region %s: %w (the trust anchor's is %s)", spec.Region, anywhere.ErrRegionMismatch, region)
	}
	paths := anywhere.Paths{Certificate: spec.Certificate, Chain: spec.CertificateChain, PrivateKey: spec.PrivateKey, CheckKey: spec.CheckKeyFile}
	client := anywhere.Client{
		HTTP:     &http.Client{Timeout: anywhereTimeout, Transport: http.DefaultTransport},
		Endpoint: spec.RolesAnywhereEndpoint,
		Region:   region,
	}
	in := anywhere.Input{
		TrustAnchorARN: spec.TrustAnchorARN,
		ProfileARN:     spec.ProfileARN,
		RoleARN:        spec.RoleARN,
		Duration:       spec.Duration,
		SessionName:    cmp.Or(spec.SessionName, DefaultSessionName()),
	}
	if in.Duration == 0 {
		in.Duration = DefaultDuration
	}
	watch := &CertificateWatch{}
	fetch := func(ctx context.Context) (aws.Credentials, error) {
		id, err := anywhere.Load(paths)
		if id.Leaf != nil {
			watch.set(anywhere.InfoOf(id.Leaf))
		}
		if err != nil {
			return aws.Credentials{}, err
		}
		defer id.Close()
		return client.CreateSession(ctx, id, in)
	}
	return Resolved{
		Name:        RoleName(spec.RoleARN),
		ARN:         spec.RoleARN,
		AccountID:   AccountID(spec.RoleARN),
		Region:      region,
		Source:      "Roles Anywhere " + spec.TrustAnchorARN,
		Fetcher:     FetcherFunc(fetch),
		Certificate: watch,
	}, nil
}
