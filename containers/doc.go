// Package containers tells which container a network address belongs to,
// by asking the container engines on this host through the Docker Engine
// API on their unix sockets (Docker's /var/run/docker.sock, and podman's
// Docker-compatible /run/podman/podman.sock).
//
// A [Resolver] keeps, per engine, a map from container address to
// container, filled by listing the running containers and kept current by
// the engine's event stream: a container that dies loses its addresses at
// once, a container that starts is listed again. A full re-list every TTL
// covers missed events. A lookup that misses asks for a re-list and waits
// for it, briefly: a container's first request can come before the event
// that announces it is processed. Until an address is known, Lookup
// returns an error, so that callers never mistake an unknown container for
// one without a role (kube2iam #46, #136, #170 in
// shared/reference/prior-art.md).
//
// Plain HTTP on the socket is all it takes: two endpoints, GET
// /containers/json and GET /events.
package containers
