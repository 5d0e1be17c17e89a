package sdkenv

import "testing"

// TestLines_Mode: the endpoint mode printed agrees with the endpoint's
// address family.
func TestLines_Mode(t *testing.T) {
	for ep, want := range map[string]string{"http://127.0.0.1:9254/": "IPv4", "http://[::1]:9254/": "IPv6"} {
		set, _ := Lines(ep)
		got := ""
		for _, kv := range set {
			if kv[0] == "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE" {
				got = kv[1]
			}
		}
		if got != want {
			t.Errorf("Lines(%q): mode %q, want %q", ep, got, want)
		}
	}
}
