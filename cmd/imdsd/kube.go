package main

// Kubernetes mode's wiring: package kube's Watcher and Reviewer (the
// identity source, on the real API) adapted to the daemon's PodWatcher and
// TokenReviewer.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"

	"github.com/imdsd/imdsd/config"
	"github.com/imdsd/imdsd/daemon"
	"github.com/imdsd/imdsd/kube"
)

// startKubernetes connects to the API server, gives the daemon this
// node's pods as a caller source, and runs the informers until ctx ends.
// It does not wait for them to sync: until they have, readiness says so
// and a request waits (bounded) for its pod as in the start race.
func startKubernetes(ctx context.Context, cfg config.Config, core *daemon.Daemon, log *slog.Logger) (func(), error) {
	k := cfg.Kubernetes
	node, err := k.RequireNode(os.Getenv)
	if err != nil {
		return nil, err
	}
	cs, _, err := kube.NewClient(k.Kubeconfig)
	if err != nil {
		return nil, err
	}
	w, err := kube.NewWatcher(kube.WatcherOptions{Client: cs, Node: node, Wait: k.Wait, Grace: k.Grace, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	var reviewer daemon.TokenReviewer
	if k.PodIdentityPort != 0 {
		r, err := kube.NewReviewer(kube.ReviewerOptions{Client: cs, Audience: k.Audience, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("kubernetes: %w", err)
		}
		reviewer = tokenReviewer{r}
		// A deleted pod's tokens stop working at once, not when the
		// review cache (or the API server's own) would let them go.
		w.Subscribe(func(ev kube.PodEvent) {
			if ev.Deleted {
				r.ForgetPod(ev.Pod.UID)
			}
		})
	}
	core.SetKubernetes(podWatcher{w}, reviewer)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := w.Run(ctx); err != nil {
			log.Error("kubernetes: the pod watch stopped", "err", err)
		}
	}()
	return func() { cancel(); <-done }, nil
}

// podWatcher is a kube.Watcher as the daemon's PodWatcher.
type podWatcher struct{ w *kube.Watcher }

func fromKube(p kube.Pod) daemon.Pod {
	return daemon.Pod{Namespace: p.Namespace, Name: p.Name, UID: p.UID, ServiceAccount: p.ServiceAccount, Node: p.Node,
		IPs: p.IPs, Annotations: p.Annotations, HostNetwork: p.HostNetwork, Phase: p.Phase}
}

func (a podWatcher) PodByIP(ctx context.Context, addr netip.Addr) (daemon.Pod, error) {
	p, err := a.w.PodByIP(ctx, addr)
	return fromKube(p), err
}

func (a podWatcher) Pod(namespace, name string) (daemon.Pod, bool) {
	p, ok := a.w.Pod(namespace, name)
	return fromKube(p), ok
}

func (a podWatcher) NamespaceAnnotations(ns string) (map[string]string, bool) {
	return a.w.NamespaceAnnotations(ns)
}

func (a podWatcher) Pods() []daemon.Pod {
	ps := a.w.Pods()
	out := make([]daemon.Pod, len(ps))
	for i, p := range ps {
		out[i] = fromKube(p)
	}
	return out
}

func (a podWatcher) Subscribe(f func(daemon.PodEvent)) {
	a.w.Subscribe(func(ev kube.PodEvent) { f(daemon.PodEvent{Pod: fromKube(ev.Pod), Deleted: ev.Deleted}) })
}

func (a podWatcher) Status() daemon.PodWatcherStatus {
	s := a.w.Status()
	return daemon.PodWatcherStatus{Synced: s.Synced, Pods: s.Pods, LastContact: s.LastContact, Stale: s.Stale, Err: s.Err}
}

func (a podWatcher) Event(p daemon.Pod, reason, message string) {
	// The Watcher's own copy carries what an Event needs (its uid).
	kp, ok := a.w.Pod(p.Namespace, p.Name)
	if !ok || kp.UID != p.UID {
		return // gone meanwhile: nothing to record it on
	}
	a.w.Event(kp, reason, message)
}

// tokenReviewer is a kube.Reviewer as the daemon's TokenReviewer.
type tokenReviewer struct{ r *kube.Reviewer }

func (a tokenReviewer) Review(ctx context.Context, token string) (daemon.TokenIdentity, error) {
	id, err := a.r.Review(ctx, token)
	if errors.Is(err, kube.ErrTokenRejected) {
		err = fmt.Errorf("%w: %w", daemon.ErrTokenRejected, err)
	}
	return daemon.TokenIdentity{Namespace: id.Namespace, ServiceAccount: id.ServiceAccount, PodName: id.PodName,
		PodUID: id.PodUID, Node: id.Node, Expiry: id.Expiry}, err
}

func (a tokenReviewer) Stats() daemon.ReviewStats {
	s := a.r.Stats()
	return daemon.ReviewStats{Calls: s.Calls, Hits: s.Hits, Rejected: s.Rejected}
}
