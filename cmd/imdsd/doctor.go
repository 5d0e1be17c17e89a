package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/imdsd/imdsd/doctor"
)

// runDoctor implements "imdsd doctor": it checks, in order, everything
// between an SDK and its credentials and says what to do about each
// failure. Exit 0 only when every check passes.
func runDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var (
		ctl                     ctlFlags
		configPath, stsEndpoint string
	)
	fs := flag.NewFlagSet("imdsd doctor", flag.ContinueOnError)
	ctl.add(fs)
	fs.StringVar(&configPath, "config", "", "config `file` to read the listen addresses from when the daemon does not answer (default: "+systemConfigPath()+" if present)")
	fs.StringVar(&stsEndpoint, "sts-endpoint", "", "STS endpoint `URL` for the clock check (default: the daemon's, else AWS's regional endpoint)")
	if code := parseCtlFlags(fs, args, "doctor [--socket PATH] [--config FILE] [--sts-endpoint URL]\n\nexit 0 when every check passes, 1 otherwise", stderr); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "imdsd doctor: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	ok := doctor.Run(ctx, doctor.Options{Out: stdout, Client: ctl.client, ConfigPath: configPath,
		SystemConfigPath: systemConfigPath(), STSEndpoint: stsEndpoint})
	if ok {
		return exitOK
	}
	return exitError
}
