package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// runCLI times "aws configure list", which resolves credentials the way
// every CLI command does, once through IMDS and once from static
// environment credentials, alternating. The ratio is the cost of getting
// credentials from imdsd as a CLI user sees it.
func runCLI(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("cli", flag.ContinueOnError)
	endpoint := fs.String("endpoint", "", "IMDS base `url` (imdsd)")
	ceiling := fs.String("ceiling", "", "IMDS base `url` of the ceiling server (optional)")
	n := fs.Int("n", 7, "runs of each")
	awsBin := fs.String("aws", "aws", "AWS CLI `command`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *endpoint == "" {
		return errors.New("-endpoint is required")
	}
	clean := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_DEFAULT_REGION=us-east-1"}
	if v := os.Getenv("PYENV_VERSION"); v != "" {
		clean = append(clean, "PYENV_VERSION="+v)
	}
	modes := []struct {
		name, want string
		env        []string
	}{
		{"imdsd", "iam-role", append(clean[:len(clean):len(clean)], "AWS_EC2_METADATA_SERVICE_ENDPOINT="+*endpoint)},
		{"static-env", " env", append(clean[:len(clean):len(clean)], "AWS_ACCESS_KEY_ID=AKIAEXAMPLESTATIC", "AWS_SECRET_ACCESS_KEY=static", "AWS_EC2_METADATA_DISABLED=true")},
	}
	if *ceiling != "" {
		// The same IMDS fetch from a server that does nothing: what is left
		// of the difference to static credentials is botocore's own.
		modes = append(modes, struct {
			name, want string
			env        []string
		}{"ceiling", "iam-role", append(clean[:len(clean):len(clean)], "AWS_EC2_METADATA_SERVICE_ENDPOINT="+*ceiling)})
	}
	for i := 0; i <= *n; i++ {
		for _, m := range modes {
			cmd := exec.CommandContext(ctx, *awsBin, "configure", "list")
			cmd.Env = m.env
			start := time.Now()
			out, err := cmd.CombinedOutput()
			d := time.Since(start)
			if err != nil {
				return fmt.Errorf("%s: %w: %s", m.name, err, out)
			}
			if !strings.Contains(string(out), "access_key") || !strings.Contains(string(out), m.want) {
				return fmt.Errorf("%s: credentials not resolved as %q:\n%s", m.name, m.want, out)
			}
			if i == 0 {
				continue // warms the page cache and pyc files
			}
			ms := float64(d) / float64(time.Millisecond)
			writeRow(stdout, Row{"cli", m.name, 1, fmt.Sprint(i), "wall_ms", ms})
		}
	}
	return nil
}
