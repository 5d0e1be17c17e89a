// Command imdsbench holds the parts of scripts/bench.sh that are easier in
// Go than in shell: the SDK and CLI fetch timings, the STS efficiency run,
// the start-up timing, and the report and chart built from the results.
//
// Every subcommand prints results as tab-separated rows
// (test, contender, conns, round, metric, value) that scripts/bench.sh
// appends to one file; report and chart read that file.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand.
type command struct {
	usage string
	run   func(ctx context.Context, args []string, stdout io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"sdk":     {"time aws-sdk-go-v2 ec2rolecreds fetches against endpoints", runSDK},
		"cli":     {"time the AWS CLI's credential resolution: IMDS against static env", runCLI},
		"sts":     {"count STS calls while many clients read across refreshes", runSTS},
		"startup": {"time from process start to first answer and first credentials", runStartup},
		"report":  {"turn a results file into markdown tables with goals", runReport},
		"chart":   {"draw the latency percentile chart (PNG) from a results file", runChart},
	}
}

func main() {
	cmds := commands()
	if len(os.Args) < 2 || cmds[os.Args[1]].run == nil {
		fmt.Fprintln(os.Stderr, "usage: imdsbench COMMAND [flags]")
		names := make([]string, 0, len(cmds))
		for n := range cmds {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(os.Stderr, "  %-8s %s\n", n, cmds[n].usage)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmds[os.Args[1]].run(ctx, os.Args[2:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "imdsbench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
