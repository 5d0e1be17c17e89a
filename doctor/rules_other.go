//go:build !linux

package doctor

// containerRules: containers reach imdsd through DNAT rules on Linux only;
// Docker Desktop needs the endpoint variable instead (imdsd env --docker).
func containerRules() (expected, present bool, detail string, err error) {
	return false, false, "container DNAT rules exist on Linux only (Docker Desktop: imdsd env --docker)", nil
}
