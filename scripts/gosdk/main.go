// Command gosdk is an end-to-end client for imdsd: aws-sdk-go-v2, unmodified,
// loads its default config (whose credential chain ends at the EC2 instance
// metadata service) and asks STS who it is.
//
// In the end-to-end test the only credential source it can find is the
// instance metadata service named by AWS_EC2_METADATA_SERVICE_ENDPOINT,
// i.e. imdsd. E2E_STS_ENDPOINT names the STS endpoint (a local STS such as
// moto). It prints the caller's ARN on stdout, and on stderr where the
// credentials came from (never a secret).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "gosdk: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	endpoint := os.Getenv("E2E_STS_ENDPOINT")
	if endpoint == "" {
		return errors.New("set E2E_STS_ENDPOINT to the STS endpoint URL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load default config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(endpoint) })
	out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fmt.Errorf("get caller identity: %w", err)
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("retrieve credentials: %w", err)
	}
	key := creds.AccessKeyID
	if len(key) > 4 {
		key = key[len(key)-4:]
	}
	fmt.Fprintf(os.Stderr, "credentials: source %s, access key …%s, expires %s\n",
		creds.Source, key, creds.Expires.UTC().Format(time.RFC3339))
	fmt.Println(aws.ToString(out.Arn))
	return nil
}
