//go:build !linux

package nat

// isBridge: only Linux has container bridges to DNAT from.
func isBridge(string) bool { return false }
