package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/imdsd/imdsd/internal/human"
	"github.com/imdsd/imdsd/internal/logging"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/imdsd/imdsd/control"
)

// runStatusCommand implements "imdsd status". When a daemon answers on the
// control socket it prints each role's state and the clients seen, and
// exits 0. Otherwise it falls back to the service manager's view (runStatus,
// service commands): exit 3 stopped, 4 not installed.
func runStatusCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f ctlFlags
	var asJSON bool
	fs := flag.NewFlagSet("imdsd status", flag.ContinueOnError)
	f.add(fs)
	fs.BoolVar(&asJSON, "json", false, "print the daemon's status as JSON")
	if code := parseCtlFlags(fs, args, "status [--json] [--socket PATH]\n\nexit 0 running; without a daemon: 3 stopped, 4 not installed", stderr); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "imdsd status: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	var st control.Status
	c, err := f.client(ctx)
	if err == nil {
		err = c.Call(ctx, control.CmdStatus, nil, &st)
	}
	if err != nil {
		fmt.Fprintf(stderr, "imdsd status: %v\n", err)
		return runStatus(ctx, nil, stdout, stderr)
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(st)
		return exitOK
	}
	printStatus(stdout, st, time.Now(), logging.IsTerminal(stdout))
	return exitOK
}

// ANSI colours; each code has the same length, so colouring a whole column
// keeps tabwriter's alignment.
const (
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiRed    = "\x1b[31m"
	ansiReset  = "\x1b[0m"
)

func stateColour(state string) string {
	switch state {
	case control.StateFresh:
		return ansiGreen
	case control.StateRefreshing:
		return ansiYellow
	}
	return ansiRed
}

// printStatus writes the human status: a header, a table of roles (with
// the failure reasons under it) and a table of clients.
func printStatus(w io.Writer, st control.Status, now time.Time, colour bool) {
	fmt.Fprintf(w, "imdsd %s  pid %d  up %s  default role: %s\n", st.Version, st.PID, ago(st.Started, now), st.DefaultRole)
	if len(st.Listen) > 0 {
		fmt.Fprintf(w, "listening on %s\n", strings.Join(st.Listen, ", "))
	}
	if !st.LastReload.IsZero() {
		fmt.Fprintf(w, "reloads: %d, last %s ago", st.Reloads, ago(st.LastReload, now))
		if st.ReloadError != "" {
			fmt.Fprintf(w, " (refused: %s)", st.ReloadError)
		}
		fmt.Fprintln(w)
	}
	if len(st.PendingRestart) > 0 {
		fmt.Fprintf(w, "restart pending: %s changed in the config; run 'imdsd restart' to apply them\n", strings.Join(st.PendingRestart, ", "))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  ROLE\tSTATE\tEXPIRES IN\tLAST REFRESH\tNEXT REFRESH\tSTS CALLS\tFAILURES\tREQUESTS\t")
	var notes []string
	for _, r := range st.Roles {
		mark := " "
		if r.Default {
			mark = "*"
		}
		state := r.State
		if colour {
			state = stateColour(r.State) + state + ansiReset
		}
		fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t\n", mark, r.Name, state,
			until(r.Expires, now), agoOrDash(r.LastRefresh, now), inOrDash(r.NextRefresh, now),
			r.STSCalls, r.STSFailures, r.Requests)
		if r.Reason != "" {
			notes = append(notes, fmt.Sprintf("%s: %s", r.Name, r.Reason))
		}
		if c := r.Certificate; c != nil {
			warn := ""
			if c.ExpiresSoon {
				warn = " (WARNING: renew it within 7 days)"
			}
			notes = append(notes, fmt.Sprintf("%s: certificate %s, issuer %s, serial %s, expires in %s%s", r.Name, c.Subject, c.Issuer, c.Serial, until(c.Expires, now), warn))
		}
		if r.MFA != nil {
			if r.MFA.Expires.IsZero() {
				notes = append(notes, fmt.Sprintf("%s: MFA %s: no session; run 'imdsd mfa'", r.Name, r.MFA.Serial))
			} else {
				notes = append(notes, fmt.Sprintf("%s: MFA %s: session ends in %s", r.Name, r.MFA.Serial, until(r.MFA.Expires, now)))
			}
		}
	}
	tw.Flush()
	for _, n := range notes {
		fmt.Fprintf(w, "  %s\n", n)
	}
	fmt.Fprintln(w)
	if len(st.Clients) == 0 {
		fmt.Fprintln(w, "no client yet")
		return
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT\tUID\tUNIT\tCONTAINER\tROLE\tREQUESTS\tLAST SEEN\t")
	for _, c := range st.Clients {
		uid := "-"
		if c.UID != nil {
			uid = fmt.Sprint(*c.UID)
		}
		if c.UID == nil && c.Caller != "" {
			uid = c.Caller
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s ago\t\n", c.Address, uid, orDash(c.Unit), orDash(c.Container), orDash(c.Role), c.Requests, ago(c.LastSeen, now))
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func ago(t, now time.Time) string { return human.Span(now.Sub(t)) }

func agoOrDash(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return ago(t, now) + " ago"
}

func until(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	if d := t.Sub(now); d > 0 {
		return human.Span(d)
	}
	return "expired"
}

func inOrDash(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	if d := t.Sub(now); d > 0 {
		return "in " + human.Span(d)
	}
	return "now"
}
