package imds

import "net/netip"

// Log attribute keys of the per-request lines.
const (
	attrCaller = "caller" // who the limits count against: uid=N, or the address
	attrClient = "client" // the remote address and port
)

// clientKey is who a connection's requests are counted against by the
// rate limit, the connection cap and the audit's dedup: the identity
// Options.ConnIdentity found for the connection (the uid owning a local
// socket), or, where nothing better is known (containers, remote peers, a
// lookup that failed), the remote address. Every local process connects
// from a loopback address, so keyed by address alone one local user could
// starve every other (issue 15 items 1, 2 and 7).
type clientKey struct {
	id   string     // from Options.ConnIdentity; "" when unknown
	addr netip.Addr // the remote address, when id is ""
}

// String names the caller in a log line: its identity, or its address.
func (k clientKey) String() string {
	if k.id != "" {
		return k.id
	}
	return k.addr.String()
}

// sameHost reports whether a connection from remote to local is made by a
// process of this host's own network namespace, the only connections
// whose socket owner the host can look up: loopback, or a client whose
// address is the one it connected to (a local process reaching the
// link-local address on lo, or a bridge address). A container's or a
// remote peer's connection is neither; asking would cost a lookup that
// cannot succeed.
func sameHost(remote, local netip.AddrPort) bool {
	r := remote.Addr()
	return r.IsValid() && (r.IsLoopback() || r == local.Addr())
}

// identify returns the key of a connection from remote to local.
func identify(fn func(remote, local netip.AddrPort) (string, bool), remote, local netip.AddrPort) clientKey {
	if fn != nil && sameHost(remote, local) {
		if id, ok := fn(remote, local); ok && id != "" {
			return clientKey{id: id}
		}
	}
	return clientKey{addr: remote.Addr()}
}
