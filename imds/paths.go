package imds

// Paths, as the SDKs request them (shared/reference/imds-protocol.md §2.1).
// Metadata paths are matched after trailing slashes are trimmed.
const (
	PathToken               = "/latest/api/token"
	PathLatest              = "/latest"
	PathMetaData            = "/latest/meta-data"
	PathIAM                 = PathMetaData + "/iam"
	PathIAMInfo             = PathIAM + "/info"
	PathSecurityCredentials = PathIAM + "/security-credentials"
	PathExtendedCredentials = PathIAM + "/security-credentials-extended"
	PathInstanceID          = PathMetaData + "/instance-id"
	PathPlacement           = PathMetaData + "/placement"
	PathAvailabilityZone    = PathPlacement + "/availability-zone"
	PathRegion              = PathPlacement + "/region"
	PathDynamic             = "/latest/dynamic"
	PathInstanceIdentity    = PathDynamic + "/instance-identity"
	PathIdentityDocument    = PathInstanceIdentity + "/document"
)

// Header names in Go's canonical form, so that lookups in http.Header need
// no canonicalisation on the hot path.
const (
	HeaderToken         = "X-Aws-Ec2-Metadata-Token"
	HeaderTokenTTL      = "X-Aws-Ec2-Metadata-Token-Ttl-Seconds"
	HeaderXForwardedFor = "X-Forwarded-For"
	headerServer        = "Server"
	headerContentType   = "Content-Type"
	headerAllow         = "Allow"
)

const (
	serverName      = "EC2ws" // what real IMDS sends
	contentText     = "text/plain"
	contentHTML     = "text/html"
	allowMetadata   = "GET, HEAD"
	allowTokenRoute = "PUT"
)
