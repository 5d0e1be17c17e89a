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
// Addresses that are no container (a host on the network reaching imdsd
// through a bridge, a VM) must not cost that wait, nor its lists, on every
// request:
//
//   - Concurrent lookups of one unknown address share one wait, and an
//     engine starts at most one list per 25 ms however many lookups (of
//     however many addresses) wait, each list serving them all: N
//     concurrent misses cost the engine the lists of one.
//   - An address that a whole wait (Options.MissWait) did not find, while
//     every engine answered and nothing changed meanwhile, is remembered as
//     unknown: its later lookups fail at once with ErrUnknown, listing
//     nothing. Anything that may give it to a container forgets every such
//     address: a container start, restart, unpause or network connect
//     event, a list that finds an address the engine did not have (an
//     event missed), an engine turning unreachable. An entry also lasts at
//     most 5 s (Options.TTL when shorter), and at most 4096 are kept, the oldest dropped
//     first, so a scan of many addresses cannot grow memory without bound.
//     ErrUnreachable is never remembered: while an engine cannot be asked,
//     every lookup of an unknown address waits and asks again.
//
// Plain HTTP on the socket is all it takes: two endpoints, GET
// /containers/json and GET /events.
package containers
