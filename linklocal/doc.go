// Package linklocal puts the EC2 instance metadata addresses on this
// machine's loopback interface, so that SDKs reach imdsd at the address
// they use on EC2 with no endpoint variable at all:
//
//   - 169.254.169.254/32, the IPv4 endpoint every SDK tries by default;
//   - fd00:ec2::254/128, the IPv6 endpoint SDKs use in IPv6 endpoint mode
//     (AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6).
//
// See https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html.
//
// Add and Remove are idempotent: an address already present is not an
// error for Add, a missing one is not an error for Remove, so a daemon that
// was killed and restarted finds its addresses and carries on.
//
// The work is OS-specific: netlink on Linux (CAP_NET_ADMIN), an lo0 alias
// through ifconfig on macOS (root), netsh on the Windows loopback
// pseudo-interface (Administrator). Other systems get ErrUnsupported.
package linklocal
