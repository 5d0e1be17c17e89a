//go:build !linux

package nat

import "fmt"

// TableName is the name imdsd's nftables table has on Linux.
const TableName = "imdsd"

// newRuleset: container DNAT exists on Linux only. On Docker Desktop
// (macOS, Windows) containers reach the daemon's loopback listener through
// AWS_EC2_METADATA_SERVICE_ENDPOINT=http://host.docker.internal:9254/.
func newRuleset() (ruleset, error) {
	return nil, fmt.Errorf("%w: container DNAT rules need Linux; on Docker Desktop set "+
		"AWS_EC2_METADATA_SERVICE_ENDPOINT=http://host.docker.internal:9254/ in the container instead", ErrUnavailable)
}
