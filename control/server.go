package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"
)

// Handler answers one command. args is the request's raw "args" (may be
// empty); the returned value is marshalled as the reply's data. An error is
// sent to the client as its message, so it must not carry a secret.
type Handler func(ctx context.Context, args json.RawMessage) (any, error)

// ErrUnknownCommand is the error for a command with no handler.
var ErrUnknownCommand = errors.New("unknown command")

// DefaultTimeout bounds one exchange on the socket: reading the request,
// running the handler (an MFA call to STS included) and writing the reply.
const DefaultTimeout = 30 * time.Second

// ServerOptions configure a [Server].
type ServerOptions struct {
	// Handlers maps each command to its handler.
	Handlers map[string]Handler
	Logger   *slog.Logger
	// Timeout bounds one exchange; DefaultTimeout when zero.
	Timeout time.Duration
}

// Server serves the control API.
type Server struct {
	opts ServerOptions
	log  *slog.Logger
}

// NewServer returns a Server.
func NewServer(opts ServerOptions) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	return &Server{opts: opts, log: opts.Logger.With("component", "control")}
}

// Run serves ln until ctx ends, then closes it and waits for the exchanges
// under way. A cancelled ctx is a normal stop and returns nil. An accept
// error that can pass (out of file descriptors, a connection aborted before
// it was accepted) is retried after a pause, as net/http does; only another
// error ends Run.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !temporaryAccept(err) {
				ln.Close()
				return fmt.Errorf("control: accept: %w", err)
			}
			delay = acceptBackoff(delay)
			s.log.Warn("accept failed; retrying", "err", err, "retry_in", delay)
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			continue
		}
		delay = 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(ctx, conn)
		}()
	}
}

// Accept retry pauses: net/http's (Server.Serve), 5 ms doubling to 1 s.
const (
	minAcceptDelay = 5 * time.Millisecond
	maxAcceptDelay = time.Second
)

func acceptBackoff(prev time.Duration) time.Duration {
	if prev == 0 {
		return minAcceptDelay
	}
	return min(2*prev, maxAcceptDelay)
}

// temporaryAccept reports whether an accept error can pass. Running out of
// file descriptors (EMFILE for the process, ENFILE for the system) or
// buffers is the case that matters: it used to end Run, and with it the
// whole daemon (issue 15 item 4), when a burst of clients or a leak
// elsewhere briefly used them all.
func temporaryAccept(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (s *Server) serveConn(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	_ = conn.SetDeadline(time.Now().Add(s.opts.Timeout))
	resp := s.exchange(ctx, conn)
	b, err := json.Marshal(resp)
	if err != nil {
		b, _ = json.Marshal(Response{Error: "control: marshal reply: " + err.Error()})
	}
	_, _ = conn.Write(append(b, '\n'))
}

// exchange reads one request and runs its handler.
func (s *Server) exchange(ctx context.Context, r io.Reader) Response {
	line, err := bufio.NewReaderSize(io.LimitReader(r, maxMessage), 4096).ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return Response{Error: "control: read request: " + err.Error()}
	}
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		return Response{Error: "control: bad request: " + err.Error()}
	}
	h, ok := s.opts.Handlers[req.Cmd]
	if !ok {
		return Response{Error: fmt.Sprintf("%v %q", ErrUnknownCommand, req.Cmd)}
	}
	data, err := h(ctx, req.Args)
	if err != nil {
		s.log.Info("command failed", "cmd", req.Cmd, "err", err)
		return Response{Error: err.Error()}
	}
	s.log.Debug("command", "cmd", req.Cmd)
	resp := Response{OK: true}
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return Response{Error: "control: marshal reply: " + err.Error()}
		}
		resp.Data = b
	}
	return resp
}
