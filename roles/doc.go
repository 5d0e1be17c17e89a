// Package roles makes and keeps fresh the temporary credentials of the IAM
// roles imdsd serves.
//
// A [Fetcher] obtains one fresh credential set with its real STS expiry:
// AssumeRole through aws-sdk-go-v2's STS client from source credentials (the
// SDK's default chain or a named profile), or a provider whose credentials
// already belong to a role (a shared-config profile with role_arn, an IAM
// Identity Center profile).
//
// A [Refresher] runs one Fetcher in the background and answers from memory:
//   - it refreshes ahead of expiry, when MinRemaining plus a random jitter
//     is left, so that served credentials always have at least MinRemaining
//     (30 minutes by default: botocore rewrites expiries closer than 25
//     minutes, shared/reference/imds-protocol.md §3.6);
//   - only its own loop calls STS, so however many clients ask at once there
//     is one STS call per refresh;
//   - on failure it retries with capped exponential backoff and jitter, logs
//     each distinct failure once, and keeps serving the last good set while
//     it has more than GraceRemaining (15 minutes) left;
//   - it never serves expired credentials, and it compares expiries with the
//     wall clock on every read, so a laptop that resumes from sleep refreshes
//     at once.
package roles
