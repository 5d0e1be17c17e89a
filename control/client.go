package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// ErrNotRunning is returned by [Client.Call] when nothing answers on the
// control socket: the daemon is not running, or runs with another socket.
var ErrNotRunning = errors.New("imdsd is not running (nothing answers on the control socket)")

// RemoteError is an error the daemon returned for a command.
type RemoteError struct {
	Cmd string
	Msg string
}

func (e *RemoteError) Error() string { return e.Msg }

// Client calls the control API.
type Client struct {
	// Path is the socket path (or pipe name on Windows).
	Path string
}

// Call sends cmd with args (nil for none) and decodes the reply's data into
// out (nil to ignore it). ctx bounds the whole exchange.
func (c Client) Call(ctx context.Context, cmd string, args, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout+5*time.Second)
		defer cancel()
	}
	req := Request{Cmd: cmd}
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return fmt.Errorf("control: marshal %s: %w", cmd, err)
		}
		req.Args = b
	}
	conn, err := dial(ctx, c.Path)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrNotRunning, c.Path, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	b, _ := json.Marshal(req)
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("control: send %s: %w", cmd, err)
	}
	line, err := bufio.NewReader(io.LimitReader(conn, maxMessage)).ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		if ctx.Err() != nil {
			return fmt.Errorf("control: %s: %w", cmd, ctx.Err())
		}
		return fmt.Errorf("control: read reply to %s: %w", cmd, err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return fmt.Errorf("control: bad reply to %s: %w", cmd, err)
	}
	if !resp.OK {
		return &RemoteError{Cmd: cmd, Msg: resp.Error}
	}
	if out != nil && len(resp.Data) > 0 {
		if err := json.Unmarshal(resp.Data, out); err != nil {
			return fmt.Errorf("control: decode reply to %s: %w", cmd, err)
		}
	}
	return nil
}

// ErrNoAccess is returned by [Find] when a daemon's socket exists but this
// user may not connect to it.
var ErrNoAccess = errors.New("not allowed to use imdsd's control socket: ask to be added to the daemon's group (imdsd for the service), then log in again")

// Find returns a client for the first of paths on which a daemon answers,
// or, when none does, one for paths[0] and ErrNotRunning (ErrNoAccess when
// a socket was there but refused this user).
func Find(ctx context.Context, paths ...string) (Client, error) {
	var errs []error
	for _, p := range paths {
		conn, err := dial(ctx, p)
		if err == nil {
			conn.Close()
			return Client{Path: p}, nil
		}
		if errors.Is(err, os.ErrPermission) {
			return Client{Path: p}, fmt.Errorf("%w: %s", ErrNoAccess, p)
		}
		errs = append(errs, fmt.Errorf("%s: %v", p, err))
	}
	return Client{Path: paths[0]}, fmt.Errorf("%w: %w", ErrNotRunning, errors.Join(errs...))
}
