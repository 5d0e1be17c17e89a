package nat

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
)

// BridgeListener is one net.Listener over a listening socket on each
// container bridge's gateway address, at one port: bridges come and go
// while the server runs, the server keeps one listener. It hands out only
// connections from the bridge's own networks (or containers.cidrs): the
// address is the host's on that network, and nothing else must be served
// there (a peer routed in from elsewhere is closed at once).
type BridgeListener struct {
	port  int
	log   *slog.Logger
	extra []netip.Prefix // containers.cidrs
	conns chan net.Conn

	mu      sync.Mutex
	socks   map[netip.Addr]*bridgeSock
	failed  map[netip.Addr]bool // a bind failure was logged
	closed  bool
	closing chan struct{}
}

type bridgeSock struct {
	ln      net.Listener
	allowed []netip.Prefix
}

var _ net.Listener = (*BridgeListener)(nil)

// NewBridgeListener returns a listener on port of each bridge Update gives
// it; extra are networks admitted besides the bridges' own.
func NewBridgeListener(port int, extra []netip.Prefix, log *slog.Logger) *BridgeListener {
	return &BridgeListener{
		port:    port,
		log:     log,
		extra:   extra,
		conns:   make(chan net.Conn),
		socks:   map[netip.Addr]*bridgeSock{},
		failed:  map[netip.Addr]bool{},
		closing: make(chan struct{}),
	}
}

// Update opens a socket on each bridge address not yet listened on, and
// closes those of bridges that are gone. It is idempotent; a failed bind
// is tried again on the next call (an IPv6 address may still be in DAD).
func (b *BridgeListener) Update(bridges []Bridge) {
	want := map[netip.Addr][]netip.Prefix{}
	for _, br := range bridges {
		for _, p := range []netip.Prefix{br.V4, br.V6} {
			if p.IsValid() {
				want[p.Addr()] = append(br.Networks(), b.extra...)
			}
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	for a, s := range b.socks {
		if _, ok := want[a]; !ok {
			s.ln.Close()
			delete(b.socks, a)
			b.log.Info("container listener closed", "addr", netip.AddrPortFrom(a, uint16(b.port)).String())
		}
	}
	for a, allowed := range want {
		if s, ok := b.socks[a]; ok {
			s.allowed = allowed
			continue
		}
		ap := netip.AddrPortFrom(a, uint16(b.port))
		ln, err := net.Listen("tcp", ap.String())
		if err != nil {
			if !b.failed[a] {
				b.log.Warn("cannot listen on container bridge yet; retrying", "addr", ap.String(), "err", err)
				b.failed[a] = true
			}
			continue
		}
		delete(b.failed, a)
		s := &bridgeSock{ln: ln, allowed: allowed}
		b.socks[a] = s
		b.log.Info("container listener open", "addr", ap.String())
		go b.accept(s)
	}
}

// Serving reports whether a is a bridge address listened on.
func (b *BridgeListener) Serving(a netip.Addr) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.socks[a]
	return ok
}

func (b *BridgeListener) accept(s *bridgeSock) {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if !b.admits(s, c.RemoteAddr()) {
			c.Close()
			continue
		}
		select {
		case b.conns <- c:
		case <-b.closing:
			c.Close()
			return
		}
	}
}

func (b *BridgeListener) admits(s *bridgeSock, ra net.Addr) bool {
	ta, ok := ra.(*net.TCPAddr)
	if !ok {
		return false
	}
	a := ta.AddrPort().Addr().Unmap()
	b.mu.Lock()
	allowed := s.allowed
	b.mu.Unlock()
	return slices.ContainsFunc(allowed, func(p netip.Prefix) bool { return p.Contains(a) })
}

// Accept returns the next admitted connection from any bridge.
func (b *BridgeListener) Accept() (net.Conn, error) {
	select {
	case c := <-b.conns:
		return c, nil
	case <-b.closing:
		return nil, net.ErrClosed
	}
}

// Close closes every socket.
func (b *BridgeListener) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	close(b.closing)
	for a, s := range b.socks {
		s.ln.Close()
		delete(b.socks, a)
	}
	return nil
}

// Addr is a placeholder naming the port: the real addresses change.
func (b *BridgeListener) Addr() net.Addr { return bridgeAddr(b.port) }

type bridgeAddr int

func (bridgeAddr) Network() string  { return "tcp" }
func (a bridgeAddr) String() string { return fmt.Sprintf("container-bridges:%d", int(a)) }
