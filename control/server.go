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
// under way. A cancelled ctx is a normal stop and returns nil.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			ln.Close()
			return fmt.Errorf("control: accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(ctx, conn)
		}()
	}
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
