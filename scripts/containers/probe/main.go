// Command probe runs inside the e2e containers (scripts/e2e-containers.sh):
// a static binary built with the AWS SDK for Go, run unmodified in a
// FROM-scratch image, as any application would be.
//
//	probe creds STS_URL   load credentials through the SDK's default chain
//	                      (no endpoint variable: IMDS at 169.254.169.254,
//	                      or the container endpoint when
//	                      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is set),
//	                      then ask STS at STS_URL who they belong to; print
//	                      "ARN <arn> SOURCE <provider>", or "NOCREDS <reason>"
//	                      and exit 3.
//	probe first -         the moment it starts, load credentials through
//	                      the SDK's default chain (IMDS, no endpoint
//	                      variable) and print "FIRST <ms> OK" with the
//	                      milliseconds since the process started, or
//	                      "FIRST <ms> FAIL <reason>" and exit 3
//	                      (scripts/bench-ctstart.sh).
//	probe get URL         GET URL (with $PROBE_AUTHORIZATION as the
//	                      Authorization header when set); print the status
//	                      code, then for a JSON object its keys and its
//	                      "code" (never the values of the others), else the
//	                      body's first line.
//
// It never prints a secret.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func main() {
	start := time.Now()
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: probe creds STS_URL | probe get URL | probe first -")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	switch os.Args[1] {
	case "creds":
		os.Exit(creds(ctx, os.Args[2]))
	case "get":
		os.Exit(get(ctx, os.Args[2]))
	case "first":
		os.Exit(first(ctx, start))
	}
	fmt.Fprintln(os.Stderr, "probe: unknown mode", os.Args[1])
	os.Exit(2)
}

func creds(ctx context.Context, stsURL string) int {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"))
	if err != nil {
		fmt.Println("NOCREDS", oneLine(err))
		return 3
	}
	c, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		fmt.Println("NOCREDS", oneLine(err))
		return 3
	}
	out, err := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(stsURL) }).
		GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		fmt.Println("STSERROR", oneLine(err))
		return 4
	}
	fmt.Println("ARN", aws.ToString(out.Arn), "SOURCE", c.Source)
	return 0
}

// first loads credentials as an application does at its start and says
// how long after the process started it had them.
func first(ctx context.Context, start time.Time) int {
	// The process's start on the host's clock, for a timeline against
	// the engine's events.
	fmt.Fprintln(os.Stderr, "START", start.UnixNano())
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"))
	if err == nil {
		_, err = cfg.Credentials.Retrieve(ctx)
	}
	ms := float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		fmt.Printf("FIRST %.1f FAIL %s\n", ms, oneLine(err))
		return 3
	}
	fmt.Printf("FIRST %.1f OK\n", ms)
	return 0
}

func get(ctx context.Context, url string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Println("ERROR", oneLine(err))
		return 1
	}
	if tok := os.Getenv("PROBE_AUTHORIZATION"); tok != "" {
		req.Header.Set("Authorization", tok)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		fmt.Println("ERROR", oneLine(err))
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	var obj map[string]any
	if json.Unmarshal(body, &obj) == nil {
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Println(resp.StatusCode, "keys="+strings.Join(keys, ","), "code="+fmt.Sprint(obj["code"]))
		return 0
	}
	line, _, _ := strings.Cut(string(body), "\n")
	fmt.Println(resp.StatusCode, strings.TrimSpace(line))
	return 0
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }
