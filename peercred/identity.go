package peercred

import (
	"net/netip"
	"strconv"
)

// Identity names the local user owning the client socket of the TCP
// connection the server sees from remote on local, as "uid=N", for
// imds.Options.ConnIdentity: connections with the same name share the
// daemon's per-caller limits. ok is false where UID fails (another OS, a
// socket already gone, one in another network namespace); the caller then
// goes by its address.
func Identity(remote, local netip.AddrPort) (name string, ok bool) {
	uid, err := UID(remote, local)
	if err != nil {
		return "", false
	}
	return "uid=" + strconv.Itoa(uid), true
}
