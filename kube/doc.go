// Package kube is imdsd's Kubernetes identity source: it knows the pods of
// this node (by address) and their namespaces from informers on the real
// Kubernetes API, and validates projected service-account tokens with the
// TokenReview API. It decides nothing: the caller→role policy is package
// access's, and the daemon wires the two.
//
// client-go is the dependency here because its informers (list + watch with
// resync, relist on a broken watch, bookmarks) are exactly what a node agent
// needs and are the code every Kubernetes controller runs; writing our own
// watch loop would repeat its bugs.
//
// # Who owns an address (Watcher.PodByIP)
//
// The holes of kube2iam and kiam (shared/reference/prior-art.md §(d)) are
// answers about an address given from a cache that is behind. So:
//
//   - Only this node's pods are watched (field selector spec.nodeName).
//   - hostNetwork pods share the node's address: they own none, and are
//     found only by name (Watcher.Pod) or by their token (Reviewer).
//   - Finished pods (Succeeded, Failed) own none: their podIPs stay in the
//     API after the address is handed to another pod.
//   - Of the pods left claiming an address, the newest (creationTimestamp)
//     owns it; at the same second, the one whose addresses changed last in
//     the API's event order. An old owner is never returned while a newer
//     pod has the address.
//   - A delete event removes the pod from the index before anything else
//     sees the event: its address is unknown at once.
//   - An address no pod owns yet (the pod-start race: the SDK asks before
//     the informer has the kubelet's podIP) waits at most Wait (≤ 1 s) for
//     the informer event that publishes it; all requests from the address
//     share that one wait. Then one direct List of the node's pods, under
//     the same rules, decides; else ErrUnknownPod. Nothing falls through
//     to the node's role.
//   - When the API server has not answered for longer than Grace (a
//     heartbeat asks every Heartbeat, and every informer list, watch and
//     event counts), PodByIP returns ErrStale: the mapping may be wrong.
//     Status shows it, and it recovers at the next answer.
//
// # Tokens (Reviewer.Review)
//
// A token is reviewed by the API server for the configured audience and
// must be bound to a pod (its User.Extra names the pod, its UID and node).
// Answers are cached under the token's SHA-256, never the token, until the
// token's own exp; concurrent reviews of one token share one call. The
// kube-apiserver itself accepts a deleted pod's token for ~10 s from its
// own cache, so the daemon calls ForgetPod on the watcher's delete event.
//
// # RBAC
//
// The agent's ClusterRole needs: get, list, watch on pods and namespaces;
// create on tokenreviews (authentication.k8s.io); create on events (core),
// for the Warning Events on refused pods.
package kube
