package daemon

// The container side of the daemon: DNAT rules from container bridges
// (nat), listeners on the bridges' gateway addresses for IMDS and the
// container credentials endpoint, the container engines' watch
// (containers), and the loopback container endpoint for FULL_URI with its
// token file. cmd/imdsd calls StartContainers before serving; nothing here
// starts unless the config asks for it.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/imdsd/imdsd/config"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/imdsd/imdsd/containers"
	"github.com/imdsd/imdsd/imds"
	"github.com/imdsd/imdsd/nat"
)

// containerSide is the daemon's container side for one run.
type containerSide struct {
	cfg      config.Config
	log      *slog.Logger
	core     *Daemon
	server   *imds.Server
	identify func(imds.Caller) imds.Caller
}

// StartContainers starts what containers: and container_endpoint: ask
// for, beside server (whose checks guard the container endpoints; identify
// is its caller identification, which the loopback endpoint shares). It
// returns the listeners server must serve besides its own (the container
// bridges') and a function that, once ctx is done, waits for everything to
// stop and cleans up (the rules are removed, the token file too). On error
// nothing is left running.
func (o *Daemon) StartContainers(ctx context.Context, server *imds.Server, identify func(imds.Caller) imds.Caller) ([]net.Listener, func(), error) {
	d := &containerSide{cfg: *o.cfg.Load(), log: o.log, core: o, server: server, identify: identify}
	return d.start(ctx)
}

func (d *containerSide) start(ctx context.Context) ([]net.Listener, func(), error) {
	cc, ec := d.cfg.Containers, d.cfg.ContainerEndpoint
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var cleanups []func()
	stop := func() {
		cancel()
		wg.Wait()
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	var extra []net.Listener
	goRun := func(name string, run func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil {
				d.log.Error(name+" stopped", "err", err)
			}
		}()
	}
	if cc.Enabled {
		log := d.log.With("component", "containers")
		imdsLn := nat.NewBridgeListener(cc.Port, cc.CIDRList(), log)
		lns := []*nat.BridgeListener{imdsLn}
		var epLn *nat.BridgeListener
		if cc.EndpointPort != 0 {
			epLn = nat.NewBridgeListener(cc.EndpointPort, cc.CIDRList(), log)
			lns = append(lns, epLn)
		}
		pods, err := podNAT(d.cfg) // one table holds the pods' rules too
		if d.cfg.Kubernetes.PrintRules {
			pods = nil // printed by StartKubernetes, installed by the node
		}
		if err != nil {
			for _, ln := range lns {
				ln.Close()
			}
			cancel()
			return nil, nil, err
		}
		mgr, err := nat.New(nat.Options{
			Pods:     pods,
			Selector: nat.Selector{Auto: true, Interfaces: cc.Interfaces, CIDRs: cc.CIDRList()},
			Ports:    nat.Ports{IMDS: uint16(cc.Port), Endpoint: uint16(cc.EndpointPort)},
			OnBridges: func(b []nat.Bridge) {
				for _, ln := range lns {
					ln.Update(b)
				}
			},
			Logger: d.log,
		})
		if err == nil {
			err = mgr.Init()
		}
		if err == nil && pods != nil {
			d.core.podRules.Store(true)
		}
		if err != nil {
			for _, ln := range lns {
				ln.Close()
			}
			cancel()
			return nil, nil, fmt.Errorf("containers: %w", err)
		}
		cleanups = append(cleanups, func() {
			for _, ln := range lns {
				ln.Close() // idempotent; the servers closed them already on a normal stop
			}
		})
		resolver := containers.New(containers.Options{Sockets: cc.Sockets, Logger: d.log,
			OnStart: func(c containers.Container) { d.core.warmContainerRole(ctx, c) }})
		d.core.SetContainers(resolver, func(a netip.Addr) bool {
			return imdsLn.Serving(a) || (epLn != nil && epLn.Serving(a))
		})
		goRun("container watch", resolver.Run)
		goRun("container DNAT", mgr.Run)
		extra = append(extra, imdsLn)
		if epLn != nil {
			h, err := imds.NewContainerHandler(imds.ContainerOptions{Source: d.core, Logger: d.log})
			if err != nil {
				stop()
				return nil, nil, err
			}
			d.serveEndpoint(ctx, &wg, epLn, h)
		}
	}
	if len(ec.Listen) > 0 {
		done, err := d.startLoopbackEndpoint(ctx, &wg, ec)
		if err != nil {
			stop()
			return nil, nil, err
		}
		cleanups = append(cleanups, done)
	}
	return extra, stop, nil
}

// warmContainerRole is told of each container its engine creates or
// starts, before the container's process runs: it makes sure the role the
// container's label names (else containers.default_role) is being fetched,
// so that its first request finds credentials. It grants nothing: the
// policy (package access) decides at each request, with every rule. Every
// role is fetched from the daemon's start today, so this only restarts a
// stopped one; a scheduler that fetches roles lazily learns here which
// role is about to be wanted.
func (o *Daemon) warmContainerRole(ctx context.Context, c containers.Container) {
	set := o.set.Load()
	name, ok := c.Label(config.ContainerRoleLabel)
	if !ok || !set.has(name) {
		name = o.cfg.Load().Containers.DefaultRole
	}
	e, ok := set.byName[name]
	if !ok {
		return
	}
	e.start(ctx) // a no-op when it runs
	o.log.Debug("container starting; its role is fetched", "container", c.Name, "role", name,
		"ready", e.refresher.Snapshot().Err == nil)
}

// serveEndpoint serves the container credentials endpoint on ln until ctx
// ends, behind the IMDS server's own checks (Host allowlist, browser
// signals, rate and connection limits, hop limit).
func (d *containerSide) serveEndpoint(ctx context.Context, wg *sync.WaitGroup, ln net.Listener, h http.Handler) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := d.server.Serve(ctx, d.server.Guard(h), ln); err != nil {
			d.log.Error("container endpoint stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
}

// startLoopbackEndpoint writes a fresh token to the token file and serves
// the container endpoint, token required, on the loopback addresses of
// container_endpoint.listen (AWS_CONTAINER_CREDENTIALS_FULL_URI with
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE). It returns the cleanup that
// removes the token file.
func (d *containerSide) startLoopbackEndpoint(ctx context.Context, wg *sync.WaitGroup, ec config.ContainerEndpoint) (func(), error) {
	token, err := newEndpointToken()
	if err != nil {
		return nil, err
	}
	path := ec.TokenFilePath()
	if err := writeTokenFile(path, token, ec.TokenGroup); err != nil {
		return nil, err
	}
	cleanup := func() { _ = os.Remove(path) }
	// Host processes call here: the same policy decides as on the IMDS
	// listeners, with the caller's uid found the same way.
	h, err := imds.NewContainerHandler(imds.ContainerOptions{
		Source:         d.core,
		IdentifyCaller: d.identify,
		Token:          token,
		Logger:         d.log,
	})
	if err != nil {
		cleanup()
		return nil, err
	}
	var lns []net.Listener
	for _, a := range ec.Listen {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			cleanup()
			return nil, fmt.Errorf("container endpoint: listen %s: %w", a, err)
		}
		lns = append(lns, ln)
	}
	for _, ln := range lns {
		d.serveEndpoint(ctx, wg, ln, h)
	}
	d.log.Info("container endpoint open", "listen", ec.Listen, "token_file", path,
		"full_uri", "http://"+ec.Listen[0]+imds.PathContainerCredentials)
	return cleanup, nil
}

// newEndpointToken returns a random token (256 bits, hex).
func newEndpointToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("container endpoint token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// writeTokenFile writes the token where only the daemon's user and group
// (token_group when set) can read it: mode 0640, written to a temporary
// file and renamed, so a reader never sees half a token.
func writeTokenFile(path, token, group string) error {
	gid := -1
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return fmt.Errorf("container_endpoint.token_group %q: %w", group, err)
		}
		if gid, err = strconv.Atoi(g.Gid); err != nil {
			return fmt.Errorf("container_endpoint.token_group %q: gid %q", group, g.Gid)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("container endpoint token file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".container-token-*")
	if err != nil {
		return fmt.Errorf("container endpoint token file: %w", err)
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(0o640)
	if err == nil && gid >= 0 {
		err = tmp.Chown(-1, gid)
	}
	if err == nil {
		_, err = tmp.WriteString(token)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("container endpoint token file %s: %w", path, err)
	}
	return nil
}
