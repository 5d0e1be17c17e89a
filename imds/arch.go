package imds

import "runtime"

// architecture returns the identity document's architecture for this
// machine, in EC2's spelling.
func architecture() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "arm64"
	case "386":
		return "i386"
	}
	return runtime.GOARCH
}
