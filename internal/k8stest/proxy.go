package k8stest

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
)

// Proxy is a TCP proxy between a client and the API server that a test can
// cut, to make the server unreachable without stopping it (every other
// test keeps using it). While cut it closes every connection it has and
// accepts new ones only to close them, as an unreachable server would
// answer (a refused connection, not a hang).
type Proxy struct {
	// Addr is the proxy's 127.0.0.1:PORT.
	Addr   string
	target string
	ln     net.Listener
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

// NewProxy starts a proxy to the cluster's API server; it stops when the
// test ends.
func (c *Cluster) NewProxy(tb testing.TB) *Proxy {
	tb.Helper()
	u, err := hostPort(c.Server)
	if err != nil {
		tb.Fatalf("api server address %q: %v", c.Server, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("proxy listen: %v", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: u, ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	tb.Cleanup(p.close)
	return p
}

// Config returns a copy of the admin config that reaches the server through
// this proxy (the serving certificate is for IP 127.0.0.1, any port).
func (p *Proxy) Config(c *Cluster) *rest.Config {
	cfg := rest.CopyConfig(c.Config)
	cfg.Host = "https://" + p.Addr
	return cfg
}

// Cut makes the server unreachable through the proxy: every open
// connection is closed now and new ones are closed at once.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

// Restore makes the server reachable again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := p.cut
		if !cut {
			p.conns[in] = struct{}{}
		}
		p.mu.Unlock()
		if cut {
			_ = in.Close()
			continue
		}
		p.wg.Add(1)
		go p.pipe(in)
	}
}

func (p *Proxy) pipe(in net.Conn) {
	defer p.wg.Done()
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		p.forget(in)
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		_ = out.Close()
		p.forget(in)
		return
	}
	p.conns[out] = struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		_ = dst.Close()
		_ = src.Close()
		done <- struct{}{}
	}
	go cp(out, in)
	go cp(in, out)
	<-done
	<-done
	p.forget(in)
	p.forget(out)
}

func (p *Proxy) forget(c net.Conn) {
	_ = c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) close() {
	_ = p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

// hostPort is the host:port of an https://host:port URL.
func hostPort(server string) (string, error) {
	const scheme = "https://"
	if len(server) <= len(scheme) || server[:len(scheme)] != scheme {
		return "", errors.New("not an https:// URL")
	}
	hp := server[len(scheme):]
	if _, _, err := net.SplitHostPort(hp); err != nil {
		return "", err
	}
	return hp, nil
}
