package roles

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// TokenCommandTimeout bounds a web_identity_token_command run.
const TokenCommandTimeout = 30 * time.Second

// tokenCommand runs a command at every fetch; its standard output is the
// token. Its standard error is counted but never shown: a failing token
// helper may well print the token, or its own credentials, there.
type tokenCommand struct {
	command string
	timeout time.Duration
}

func (c tokenCommand) String() string { return KeyWebIdentityTokenCommand }

func (c tokenCommand) token(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmd := shellCommand(ctx, c.command)
	var stdout, stderr capped
	stdout.limit, stderr.limit = MaxWebIdentityToken, 0
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second // a child that keeps the pipes open cannot hang a fetch
	err := cmd.Run()
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return "", tokenError(c, fmt.Sprintf("the command did not finish within %s", c.timeout), ctx.Err())
	case err != nil:
		return "", tokenError(c, fmt.Sprintf("the command failed (its %d bytes of stderr are not shown: they may hold the token; run it by hand to see them)", stderr.n), err)
	case stdout.over:
		return "", tokenError(c, fmt.Sprintf("the command printed over %d bytes", MaxWebIdentityToken), nil)
	}
	return strings.TrimSpace(stdout.buf.String()), nil
}

// capped keeps at most limit bytes and counts the rest.
type capped struct {
	buf   bytes.Buffer
	limit int
	n     int
	over  bool
}

func (c *capped) Write(p []byte) (int, error) {
	c.n += len(p)
	if room := c.limit - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(room, len(p))])
	}
	if c.n > c.limit && c.limit > 0 {
		c.over = true
	}
	return len(p), nil
}
