package imds

import "errors"

// The EKS Pod Identity–compatible endpoint is a ContainerHandler with
// ContainerOptions.PodIdentity set, served at 169.254.170.23 (and
// fd00:ec2::23) /v1/credentials: the SDKs send the projected
// service-account token of AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE as the
// Authorization header. imds knows nothing of Kubernetes: the header goes
// to the Source as Caller.Authorization, and the Source says who it
// proves.

// ErrUnauthorized is returned by a [Source] when the caller's
// Authorization token is rejected (Pod Identity mode): 401.
var ErrUnauthorized = errors.New("authorization token rejected")

// PodIdentityAddrs are the link-local addresses of the EKS Pod Identity
// agent's endpoint.
const (
	PodIdentityAddr4 = "169.254.170.23"
	PodIdentityAddr6 = "fd00:ec2::23"
)

// Error codes of the Pod Identity endpoint.
const (
	codeAccessDenied = "AccessDeniedException"
	codeInvalidToken = "InvalidTokenException"
)
