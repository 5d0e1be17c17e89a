package kube

import (
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Pod is what imdsd knows of a pod of this node: enough to decide its
// role, name its session and find it by address; nothing else is kept.
type Pod struct {
	Namespace, Name, UID, ServiceAccount, Node string
	// IPs are all of status.podIPs (v4 and v6), in the API's order.
	IPs []netip.Addr
	// Annotations are shared with the informer's store: read them, never
	// modify them.
	Annotations map[string]string
	HostNetwork bool
	// Phase is the corev1.PodPhase as a string.
	Phase string
	// Created is metadata.creationTimestamp: of two pods claiming one
	// address, the newer owns it.
	Created time.Time
}

// Key is "namespace/name".
func (p Pod) Key() string { return p.Namespace + "/" + p.Name }

// Terminal reports a pod that has finished (Succeeded or Failed): its
// address may already be another pod's, so it owns none.
func (p Pod) Terminal() bool {
	return p.Phase == string(corev1.PodSucceeded) || p.Phase == string(corev1.PodFailed)
}

// PodEvent is a change to a pod of this node, for prefetch and GC.
type PodEvent struct {
	Pod     Pod
	Deleted bool
}

// lastApplied is kubectl's copy of the whole manifest: large, and never
// needed to decide a role.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// podFrom converts an API pod. Unparsable addresses are skipped (the API
// server validates them, so there are none in practice).
func podFrom(p *corev1.Pod) Pod {
	out := Pod{
		Namespace:      p.Namespace,
		Name:           p.Name,
		UID:            string(p.UID),
		ServiceAccount: p.Spec.ServiceAccountName,
		Node:           p.Spec.NodeName,
		Annotations:    p.Annotations,
		HostNetwork:    p.Spec.HostNetwork,
		Phase:          string(p.Status.Phase),
		Created:        p.CreationTimestamp.Time,
	}
	for _, ip := range p.Status.PodIPs {
		if a, err := netip.ParseAddr(ip.IP); err == nil {
			out.IPs = append(out.IPs, a.Unmap())
		}
	}
	if len(out.IPs) == 0 && p.Status.PodIP != "" {
		if a, err := netip.ParseAddr(p.Status.PodIP); err == nil {
			out.IPs = append(out.IPs, a.Unmap())
		}
	}
	return out
}

// slimPod is the informer's transform: it keeps only the fields podFrom
// reads (and what the informer itself needs: resourceVersion), so the
// store holds a few hundred bytes per pod instead of its whole spec,
// managedFields and kubectl's last-applied copy.
func slimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil // a tombstone: already slim
	}
	ann := p.Annotations
	if _, big := ann[lastApplied]; big {
		ann = make(map[string]string, len(p.Annotations)-1)
		for k, v := range p.Annotations {
			if k != lastApplied {
				ann[k] = v
			}
		}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:         p.Namespace,
			Name:              p.Name,
			UID:               p.UID,
			ResourceVersion:   p.ResourceVersion,
			CreationTimestamp: p.CreationTimestamp,
			DeletionTimestamp: p.DeletionTimestamp,
			Annotations:       ann,
		},
		Spec: corev1.PodSpec{
			ServiceAccountName: p.Spec.ServiceAccountName,
			NodeName:           p.Spec.NodeName,
			HostNetwork:        p.Spec.HostNetwork,
		},
		Status: corev1.PodStatus{
			Phase:  p.Status.Phase,
			PodIP:  p.Status.PodIP,
			PodIPs: p.Status.PodIPs,
		},
	}, nil
}

// slimNamespace keeps a namespace's name and annotations.
func slimNamespace(obj any) (any, error) {
	n, ok := obj.(*corev1.Namespace)
	if !ok {
		return obj, nil
	}
	ann := n.Annotations
	if _, big := ann[lastApplied]; big {
		ann = make(map[string]string, len(n.Annotations)-1)
		for k, v := range n.Annotations {
			if k != lastApplied {
				ann[k] = v
			}
		}
	}
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:            n.Name,
		UID:             n.UID,
		ResourceVersion: n.ResourceVersion,
		Annotations:     ann,
	}}, nil
}
