package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"time"
)

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
	conn, err := connect(ctx, c.Path)
	if err != nil {
		if refused(err) {
			return err
		}
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

// Find returns a client for the first of paths on which a daemon answers,
// or, when none does, one for paths[0] and ErrNotRunning. It stops at a
// socket this user may not open (an [*AccessError]) or one served by a user
// it must not trust (a [*PeerError]): falling through to the next path
// would hide both.
func Find(ctx context.Context, paths ...string) (Client, error) {
	var errs []error
	for _, p := range paths {
		conn, err := connect(ctx, p)
		if err == nil {
			conn.Close()
			return Client{Path: p}, nil
		}
		if refused(err) {
			return Client{Path: p}, err
		}
		errs = append(errs, fmt.Errorf("%s: %v", p, err))
	}
	return Client{Path: paths[0]}, fmt.Errorf("%w: %w", ErrNotRunning, errors.Join(errs...))
}

// connect dials the daemon at path and checks who serves it before anything
// is sent: an MFA code or a request for credentials must reach only a
// process of this user, of root, or of the service user a root-made
// directory belongs to. Its errors are an [*AccessError] or a [*PeerError],
// or the dial error when nothing answers.
func connect(ctx context.Context, path string) (net.Conn, error) {
	conn, err := dial(ctx, path)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, &AccessError{Path: path, Group: socketGroup(path), Err: err}
		}
		return nil, err
	}
	if err := checkPeer(conn, path); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// refused reports whether err is a socket that answered but must not be
// used, as opposed to one where nothing answers.
func refused(err error) bool {
	return errors.Is(err, ErrNoAccess) || errors.Is(err, ErrUntrustedPeer)
}
