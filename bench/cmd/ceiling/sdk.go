//go:build sdk

package main

// Built with -tags sdk (scripts/bench.sh builds it as ceiling-sdk), the
// ceiling links the AWS SDK for Go v2 packages imdsd links (config, which
// brings the SSO, sign-in and STS clients, and the STS credential provider)
// and so runs their package initialisation. It calls none of them and
// serves exactly as the ceiling does. What it measures is the cost of
// linking the SDK: the tables those packages build when the program starts
// (endpoint partitions, operation schemas, compiled regular expressions)
// stay live for the life of the process, and every garbage collection
// marks them again (docs/BENCHMARKS.md, "What changed in session 4").
import (
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	_ "github.com/aws/aws-sdk-go-v2/service/sts"
)
