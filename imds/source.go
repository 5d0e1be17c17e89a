package imds

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// ErrNoRole is returned by a [Source] when the caller may use no role at
// all. The server then answers as an instance without an instance profile:
// 404 on the IAM paths.
var ErrNoRole = errors.New("no role for this client")

// ErrForbidden is returned by a [Source] when rules apply to the caller but
// it cannot be identified (its uid is unknown): the request is refused with
// 403 rather than served.
var ErrForbidden = errors.New("client cannot be identified")

// Credentials are temporary AWS credentials as the IMDS serves them.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// Expires is the real expiry reported by STS, never one moved earlier by
	// a client-side cache window.
	Expires time.Time
	// LastUpdated is when these credentials were obtained.
	LastUpdated time.Time
	// AccountID is the AWS account that owns the role, when known.
	AccountID string
}

// Role is what a [Source] knows about the role a caller may use.
type Role struct {
	// Name is the role's name as EC2 shows an instance profile's role: the
	// last part of the role ARN. It is set whenever the error returned by
	// Source.Credentials is nil.
	Name string
	// Credentials are the role's current credentials; valid only when Err is
	// nil.
	Credentials Credentials
	// Err says why no credentials can be served right now (for example the
	// last AssumeRole failed and the previous set is too close to expiry).
	// The role listing still shows Name; the credential document becomes an
	// IMDS error document carrying this message. Err may implement
	// ErrorCode() string to set the document's Code.
	Err error
	// Container names the caller's container (its name or short ID) when
	// the Source identified one; the audit line shows it.
	Container string
}

// Caller identifies the client of one request.
type Caller struct {
	// Remote is the client's address and port.
	Remote netip.AddrPort
	// Local is the address and port the request arrived on.
	Local netip.AddrPort
	// UID is the uid owning the client's socket, valid when HasUID: set by
	// Options.IdentifyCaller for loopback clients on Linux.
	UID    int
	HasUID bool
	// Authorization is the request's Authorization header on a Pod
	// Identity endpoint (ContainerOptions.PodIdentity): a service-account
	// token, a secret, never logged or echoed.
	Authorization string
	// ID is who the connection's requests are counted against by the
	// limits and the audit (Options.ConnIdentity: "uid=1000"); "" when
	// nothing better than the address is known. Status keys its clients
	// by it, so local users on one address are told apart.
	ID string
}

// A Source answers, from memory and without blocking on any network call,
// which role a caller may use and that role's current credentials.
//
// It returns ErrNoRole when the caller may use no role, and another error
// when the caller cannot be identified yet (the request is refused rather
// than served a default).
type Source interface {
	Credentials(ctx context.Context, c Caller) (Role, error)
}

// SourceFunc adapts a function to a [Source].
type SourceFunc func(ctx context.Context, c Caller) (Role, error)

// Credentials calls f.
func (f SourceFunc) Credentials(ctx context.Context, c Caller) (Role, error) { return f(ctx, c) }
