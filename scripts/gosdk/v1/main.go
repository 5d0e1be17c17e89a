// Command v1 is the end-to-end client for imdsd with the AWS SDK for Go v1
// (github.com/aws/aws-sdk-go), unmodified: its default session, whose
// credential chain ends at the EC2 instance metadata service, asks STS who
// it is.
//
// It is its own module so that the SDK v1 (end of support since July 2025)
// never enters imdsd's go.mod; e2e.sh builds it. In the end-to-end test
// the only credential source it can find is the instance metadata service
// named by AWS_EC2_METADATA_SERVICE_ENDPOINT, i.e. imdsd.
// E2E_STS_ENDPOINT names the STS endpoint (a local STS such as moto). It
// prints the caller's ARN on stdout, and on stderr where the credentials
// came from (never a secret).
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/sts"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "gosdk-v1: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	endpoint := os.Getenv("E2E_STS_ENDPOINT")
	if endpoint == "" {
		return errors.New("set E2E_STS_ENDPOINT to the STS endpoint URL")
	}
	sess, err := session.NewSession()
	if err != nil {
		return fmt.Errorf("new session: %w", err)
	}
	client := sts.New(sess, &aws.Config{Endpoint: aws.String(endpoint)})
	out, err := client.GetCallerIdentity(&sts.GetCallerIdentityInput{})
	if err != nil {
		return fmt.Errorf("get caller identity: %w", err)
	}
	creds, err := sess.Config.Credentials.Get()
	if err != nil {
		return fmt.Errorf("get credentials: %w", err)
	}
	key := creds.AccessKeyID
	if len(key) > 4 {
		key = key[len(key)-4:]
	}
	fmt.Fprintf(os.Stderr, "credentials: provider %s, access key …%s\n", creds.ProviderName, key)
	fmt.Println(aws.StringValue(out.Arn))
	return nil
}
