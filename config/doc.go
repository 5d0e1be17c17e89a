// Package config is imdsd's configuration: the YAML file, the serve flags
// over it, and their validation, all driven by one table of keys (keys.go).
// From that table come decoding, the flags and their merge over the file,
// `imdsd config check`'s effective values, the redaction of secrets, the
// keys a reload cannot apply, and docs/config.md's key reference.
//
// It knows nothing of HTTP, STS calls or the running daemon: it turns
// bytes and flags into a validated Config.
package config
