package daemon

// The Kubernetes side of the daemon: the listeners on the node address
// that pods reach through the DNAT rules (the instance metadata service
// and the Pod Identity endpoint), the rules themselves (package nat, or
// printed for a CNI that owns the ruleset), and readiness.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"

	"github.com/imdsd/imdsd/config"
	"github.com/imdsd/imdsd/imds"
	"github.com/imdsd/imdsd/nat"
)

// podNAT returns the pods' DNAT of cfg (nil when Kubernetes mode is off).
func podNAT(cfg config.Config) (*nat.Pods, error) {
	k := cfg.Kubernetes
	if !k.Enabled {
		return nil, nil
	}
	node, err := k.NodeAddr(os.Getenv)
	if err != nil {
		return nil, err
	}
	p := &nat.Pods{Interfaces: k.Interfaces, IMDS: uint16(k.Port), PodIdentity: uint16(k.PodIdentityPort)}
	if node.Is4() {
		p.V4 = node
	} else {
		p.V6 = node
	}
	return p, p.Validate()
}

// StartKubernetes starts, when kubernetes: is enabled, the listeners pods
// reach on the node address and the DNAT rules that lead them there (in
// the container side's rule set when containers: is on too, so that one
// table holds both; else in its own), or, with print_rules, prints the
// rules on out and installs nothing. It returns the listeners server must
// serve (the node's IMDS one) and a function that, once ctx is done, waits
// for everything to stop; the rules are removed then. SetKubernetes must
// have been called. On error nothing is left running.
func (o *Daemon) StartKubernetes(ctx context.Context, server *imds.Server, out io.Writer) ([]net.Listener, func(), error) {
	cfg := *o.cfg.Load()
	pods, err := podNAT(cfg)
	if pods == nil || err != nil {
		return nil, func() {}, err
	}
	if o.kube.Load() == nil {
		return nil, nil, errors.New("kubernetes: no pod source (SetKubernetes was not called)")
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var lns []net.Listener
	stop := func() {
		cancel()
		wg.Wait()
		for _, ln := range lns {
			ln.Close() // idempotent: the servers closed them on a normal stop
		}
	}
	node := pods.V4
	if !node.IsValid() {
		node = pods.V6
	}
	listen := func(port uint16) (net.Listener, error) {
		a := netip.AddrPortFrom(node, port).String()
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return nil, fmt.Errorf("kubernetes: listen %s (kubernetes.node_ip and the ports): %w", a, err)
		}
		lns = append(lns, ln)
		return ln, nil
	}
	imdsLn, err := listen(pods.IMDS)
	if err != nil {
		stop()
		return nil, nil, err
	}
	if pods.PodIdentity != 0 {
		ln, err := listen(pods.PodIdentity)
		if err != nil {
			stop()
			return nil, nil, err
		}
		h, err := imds.NewContainerHandler(imds.ContainerOptions{Source: o, PodIdentity: true, Logger: o.log})
		if err != nil {
			stop()
			return nil, nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := server.Serve(ctx, server.Guard(h), ln); err != nil {
				o.log.Error("pod identity endpoint stopped", "addr", ln.Addr().String(), "err", err)
			}
		}()
	}
	switch {
	case cfg.Kubernetes.PrintRules:
		script, err := nat.Script(nat.Rules(nil, nat.Ports{}, pods))
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("kubernetes: print the rules: %w", err)
		}
		fmt.Fprint(out, script)
		o.log.Info("kubernetes.print_rules: the DNAT rules were printed, not installed: load them with nft -f before the kubelet starts")
		o.podRules.Store(true)
	case cfg.Containers.Enabled:
		// The container side's Manager holds the pods' rules too
		// (containers.go); it sets podRules once they are in.
	default:
		mgr, err := nat.New(nat.Options{Pods: pods, Logger: o.log})
		if err == nil {
			err = mgr.Init()
		}
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("kubernetes: pod DNAT: %w", err)
		}
		o.podRules.Store(true)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := mgr.Run(ctx); err != nil {
				o.log.Error("pod DNAT stopped", "err", err)
			}
		}()
	}
	o.log.Info("kubernetes: serving pods", "node", cfg.Kubernetes.Node(os.Getenv), "imds", imdsLn.Addr().String(),
		"pod_identity_port", pods.PodIdentity, "interfaces", pods.Interfaces)
	return []net.Listener{imdsLn}, stop, nil
}

// ready reports what keeps the daemon from being ready, for the readiness
// probe: in Kubernetes mode, the pod informer synced and fresh and the
// DNAT rules installed.
func (o *Daemon) ready() error {
	if !o.cfg.Load().Kubernetes.Enabled {
		return nil
	}
	k := o.kube.Load()
	if k == nil {
		return errors.New("the pod source is not started")
	}
	st := k.watcher.Status()
	switch {
	case !st.Synced:
		return errors.New("the pod informer has not synced with the API server yet")
	case st.Stale:
		return fmt.Errorf("the API server has been out of reach past kubernetes.grace (%s): pods get nothing", st.Err)
	case !o.podRules.Load():
		return errors.New("the pods' DNAT rules are not installed yet")
	}
	return nil
}
