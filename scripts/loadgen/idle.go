package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// runIdle is the idle phase (-idle N) instead of the load: N keep-alive
// connections spread over -clients loopback addresses, each sends one
// metadata GET, reads its answer and stays open. It prints imdsd's RSS
// before and with them open, after -settle, and how many the daemon
// closed (its global limit, max_conns, sheds the oldest idle ones; issue
// 15 item 4).
func runIdle(ctx context.Context, o options, n int, out io.Writer) error {
	if _, err := warmUp(ctx, o); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	u, err := url.Parse(o.url)
	if err != nil {
		return err
	}
	rss0, err := rss(o.pid)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "baseline: RSS %.1f MB\n", mb(rss0))
	req := "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: " + u.Host + "\r\n\r\n"
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		src := net.ParseIP(fmt.Sprintf("%s%d.%d", o.sourcePrefix, 1+(i%o.clients)/250, 1+(i%o.clients)%250))
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 5 * time.Second}
		c, err := d.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, req); err != nil {
			return fmt.Errorf("connection %d: write: %w", i, err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return fmt.Errorf("connection %d: read: %w", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("connection %d: status %d", i, resp.StatusCode)
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(o.settle):
	}
	rss1, err := rss(o.pid)
	if err != nil {
		return err
	}
	open := 0
	for _, c := range conns {
		// An open idle connection has nothing to read: the short
		// deadline passes. One the daemon closed reads EOF.
		_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
		var ne net.Error
		if _, err := c.Read(make([]byte, 1)); errors.As(err, &ne) && ne.Timeout() {
			open++
		}
	}
	fmt.Fprintf(out, "idle: %d connections from %d addresses, %d still open after %s; RSS %.1f MB (+%.1f MB, %.1f KB per open connection)\n",
		n, min(n, o.clients), open, o.settle, mb(rss1), mb(rss1-rss0), float64(rss1-rss0)/1024/float64(max(open, 1)))
	return nil
}
