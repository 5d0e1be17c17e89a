// Package imds serves the EC2 instance metadata service (IMDS) protocol over
// HTTP, as unmodified AWS SDKs and the AWS CLI expect it from a real EC2
// instance whose instance profile holds one IAM role.
//
// The contract, with every SDK quirk it honours, is written down in
// shared/reference/imds-protocol.md; the AWS documentation is at
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html
// and https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-v2-how-it-works.html.
//
// In short:
//   - PUT /latest/api/token issues a stateless IMDSv2 session token (HMAC
//     signed with a per-process key, expiry inside) for a TTL of 1..21600 s,
//     and echoes the granted TTL in X-aws-ec2-metadata-token-ttl-seconds.
//   - GET and HEAD read metadata. A token that is present is always checked
//     (401 when bad); in required mode a missing token is 401 too.
//   - The role listing is exactly one bare role name, no trailing newline.
//   - The credential document carries the seven documented keys with
//     seconds-precision UTC timestamps and the real STS expiry.
//
// The package knows nothing of STS: credentials come from a [Source], which
// answers from memory which role a caller may use and that role's current
// credentials.
package imds
