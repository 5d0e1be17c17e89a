// Package nat sends containers' metadata traffic to imdsd.
//
// Containers on a bridge (Docker's docker0 and br-*, podman's, and any
// interface or CIDR the config names) reach the instance metadata service
// at 169.254.169.254:80, [fd00:ec2::254]:80 and the container credentials
// endpoint at 169.254.170.2:80 with no change to the image. The package
// installs, in an nftables table of its own ("inet imdsd"), DNAT rules that
// send that traffic to imdsd's listener on the bridge's own gateway address,
// so nothing but the container network can reach that listener and nothing
// needs route_localnet (shared/reference/imds-protocol.md §6).
//
// A [Manager] keeps the rules in place: it applies them at start, looks
// every few seconds at the bridges and at its table, puts the table back
// when something removed or changed it (Docker restarting, a firewall
// reload, a new bridge), logs each repair, and deletes the table when it
// stops. Rules are talked to the kernel through netlink
// (github.com/google/nftables); nothing shells out to nft or iptables.
//
// On a Kubernetes node, [Pods] adds the same DNAT for pod interfaces matched
// by patterns ("cali+", "cni0", "veth+", "eni+", "lxc+"), for the instance
// metadata addresses and the Pod Identity endpoint (169.254.170.23,
// fd00:ec2::23), to the daemon's listener on the node's own address, which
// then only pod interfaces reach. [Script] prints the same table as an nft
// script, for clusters whose CNI or node image installs rules itself.
package nat
