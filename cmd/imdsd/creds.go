package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/imdsd/imdsd/control"
	"github.com/imdsd/imdsd/internal/sdkenv"
)

// Output formats of "imdsd creds".
const (
	formatCredentialProcess = "credential_process"
	formatEnv               = "env"
	formatJSON              = "json"
)

// processCredentials is the AWS credential_process output (version 1), as
// the SDKs and the CLI parse it.
type processCredentials struct {
	Version         int    `json:"Version"`
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	SessionToken    string `json:"SessionToken"`
	Expiration      string `json:"Expiration"`
}

// runCreds implements "imdsd creds [--role R] [--format F]": it prints a
// role's current credentials from the daemon's memory, for tools that
// cannot use IMDS: `credential_process = imdsd creds` in ~/.aws/config, or
// `eval "$(imdsd creds --format env)"`.
func runCreds(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f ctlFlags
	var role, format string
	fs := flag.NewFlagSet("imdsd creds", flag.ContinueOnError)
	f.add(fs)
	fs.StringVar(&role, "role", "", "`role` to print (default: the default role)")
	fs.StringVar(&format, "format", formatCredentialProcess, "output `format`: credential_process, env or json")
	if code := parseCtlFlags(fs, args, "creds [--role ROLE] [--format credential_process|env|json] [--socket PATH]", stderr); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "imdsd creds: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	switch format {
	case formatCredentialProcess, formatEnv, formatJSON:
	default:
		fmt.Fprintf(stderr, "imdsd creds: --format %q: must be credential_process, env or json\n", format)
		return exitUsage
	}
	var c control.Creds
	if code := f.call(ctx, "creds", stderr, control.CmdCreds, control.CredsArgs{Role: role}, &c); code >= 0 {
		return code
	}
	writeCreds(stdout, format, c)
	return exitOK
}

func writeCreds(w io.Writer, format string, c control.Creds) {
	exp := c.Expiration.UTC().Format(time.RFC3339)
	switch format {
	case formatEnv:
		fmt.Fprintf(w, "export AWS_ACCESS_KEY_ID=%s\n", sdkenv.ShellQuote(c.AccessKeyID))
		fmt.Fprintf(w, "export AWS_SECRET_ACCESS_KEY=%s\n", sdkenv.ShellQuote(c.SecretAccessKey))
		fmt.Fprintf(w, "export AWS_SESSION_TOKEN=%s\n", sdkenv.ShellQuote(c.SessionToken))
		fmt.Fprintf(w, "export AWS_CREDENTIAL_EXPIRATION=%s\n", sdkenv.ShellQuote(exp))
		if c.Region != "" {
			fmt.Fprintf(w, "export AWS_REGION=%s\n", sdkenv.ShellQuote(c.Region))
		}
	case formatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(c)
	default:
		_ = json.NewEncoder(w).Encode(processCredentials{
			Version: 1, AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey,
			SessionToken: c.SessionToken, Expiration: exp,
		})
	}
}
