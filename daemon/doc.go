// Package daemon is the running imdsd's core: the role set built from the
// config (each role resolved once, with its refresher), reload as a diff
// of comparable role definitions (an atomic swap: in-flight requests finish
// on the old set), MFA coordination, the control-socket operations and the
// metrics. It answers the IMDS server as its Source, asking package access
// which role each caller may have.
//
// It opens no IMDS listener and knows no flag: cmd/imdsd builds it from a
// config.Config and wires it to the server.
package daemon
