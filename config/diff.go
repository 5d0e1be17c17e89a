package config

import "reflect"

// Changed returns the keys whose values differ between a and b, in table
// order.
func Changed(a, b Config) []Key {
	var out []Key
	for _, k := range Keys() {
		if !reflect.DeepEqual(reflect.ValueOf(k.field(&a)).Elem().Interface(), reflect.ValueOf(k.field(&b)).Elem().Interface()) {
			out = append(out, k)
		}
	}
	return out
}

// RestartKeys returns the names of the keys that differ between a and b and
// that a reload cannot apply to a running daemon (its sockets, its
// identity, its hardening).
func RestartKeys(a, b Config) []string {
	var out []string
	for _, k := range Changed(a, b) {
		if k.Restart {
			out = append(out, k.Name)
		}
	}
	return out
}
