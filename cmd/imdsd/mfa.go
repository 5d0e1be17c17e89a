package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/imdsd/imdsd/internal/human"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/imdsd/imdsd/control"
)

// mfaCodePattern is an MFA device code: six digits (TOTP devices and
// virtual MFA apps).
var mfaCodePattern = regexp.MustCompile(`^\d{6}$`)

// runMFA implements "imdsd mfa [--role R] [CODE]": the daemon calls
// GetSessionToken once with the code and keeps the session in memory (12 h
// by default, mfa_session_duration up to 36 h); every refresh then assumes
// the role from that session without asking again. Without CODE it asks on
// the terminal.
func runMFA(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return mfaCommand(ctx, args, os.Stdin, stdout, stderr)
}

func mfaCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var f ctlFlags
	var role string
	fs := flag.NewFlagSet("imdsd mfa", flag.ContinueOnError)
	f.add(fs)
	fs.StringVar(&role, "role", "", "open the session for this `role` only (default: every role that needs MFA)")
	if code := parseCtlFlags(fs, args, "mfa [--role ROLE] [--socket PATH] [CODE]", stderr); code >= 0 {
		return code
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(stderr, "imdsd mfa: unexpected argument %q\n", fs.Arg(1))
		return exitUsage
	}
	code := fs.Arg(0)
	if code == "" {
		var err error
		if code, err = promptMFA(stdin, stderr); err != nil {
			fmt.Fprintf(stderr, "imdsd mfa: %v\n", err)
			return exitUsage
		}
	}
	if !mfaCodePattern.MatchString(code) {
		fmt.Fprintln(stderr, "imdsd mfa: the code must be the 6 digits your MFA device shows")
		return exitUsage
	}
	var reply control.MFAReply
	if c := f.call(ctx, "mfa", stderr, control.CmdMFA, control.MFAArgs{Role: role, Code: code}, &reply); c >= 0 {
		return c
	}
	fmt.Fprintf(stdout, "MFA session for %s open until %s (%s); roles: %s\n", reply.Serial,
		reply.Expires.Local().Format(time.DateTime), human.Span(time.Until(reply.Expires)), strings.Join(reply.Roles, ", "))
	return exitOK
}

// promptMFA reads a code from stdin: with a prompt on a terminal, or the
// first line of a pipe (`echo 123456 | imdsd mfa`).
func promptMFA(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "MFA code: ")
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 256)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	if line = strings.TrimSpace(line); line == "" {
		return "", errors.New("no code given (imdsd mfa CODE, or type it when asked)")
	}
	return line, nil
}
