package containers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Container is what a Resolver knows about one running container.
type Container struct {
	ID     string
	Name   string
	Labels map[string]string
	Addrs  []netip.Addr
	// Engine is the socket of the engine that runs it.
	Engine string
}

// Label returns the value of the container's label key, and whether it is
// set.
func (c Container) Label(key string) (string, bool) {
	v, ok := c.Labels[key]
	return v, ok
}

// apiContainer is one item of GET /containers/json (Docker Engine API;
// podman's compat API has the same shape).
type apiContainer struct {
	ID              string            `json:"Id"`
	Names           []string          `json:"Names"`
	Labels          map[string]string `json:"Labels"`
	NetworkSettings struct {
		Networks map[string]struct {
			IPAddress         string `json:"IPAddress"`
			GlobalIPv6Address string `json:"GlobalIPv6Address"`
		} `json:"Networks"`
	} `json:"NetworkSettings"`
}

// apiEvent is one item of the GET /events stream.
type apiEvent struct {
	Type   string `json:"Type"`
	Action string `json:"Action"`
	Actor  struct {
		ID         string            `json:"ID"`
		Attributes map[string]string `json:"Attributes"`
	} `json:"Actor"`
}

// engineClient speaks the Docker Engine API on a unix socket.
type engineClient struct {
	socket string
	http   *http.Client
}

// listTimeout bounds one container listing.
const listTimeout = 5 * time.Second

func newEngineClient(socket string) *engineClient {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConns:    2,
		IdleConnTimeout: 30 * time.Second,
	}
	return &engineClient{socket: socket, http: &http.Client{Transport: tr}}
}

// The host part of the URL is ignored: the transport dials the socket.
const apiBase = "http://engine"

func (c *engineClient) get(ctx context.Context, path string, q url.Values) (*http.Response, error) {
	u := apiBase + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	return resp, nil
}

// list returns the running containers.
func (c *engineClient) list(ctx context.Context) ([]Container, error) {
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	resp, err := c.get(ctx, "/containers/json", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var items []apiContainer
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&items); err != nil {
		return nil, fmt.Errorf("decode container list: %w", err)
	}
	out := make([]Container, 0, len(items))
	for _, it := range items {
		ct := Container{ID: it.ID, Labels: it.Labels, Engine: c.socket}
		if len(it.Names) > 0 {
			ct.Name = strings.TrimPrefix(it.Names[0], "/")
		}
		for _, n := range it.NetworkSettings.Networks {
			for _, s := range []string{n.IPAddress, n.GlobalIPv6Address} {
				if a, err := netip.ParseAddr(s); err == nil {
					ct.Addrs = append(ct.Addrs, a.Unmap())
				}
			}
		}
		out = append(out, ct)
	}
	return out, nil
}

// events streams container and network events to fn until ctx ends or the
// stream breaks. ready is called once the stream is open.
func (c *engineClient) events(ctx context.Context, ready func(), fn func(apiEvent)) error {
	filters := `{"type":["container","network"]}`
	resp, err := c.get(ctx, "/events", url.Values{"filters": {filters}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	ready()
	dec := json.NewDecoder(resp.Body)
	for {
		var ev apiEvent
		if err := dec.Decode(&ev); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("event stream: %w", err)
		}
		fn(ev)
	}
}
