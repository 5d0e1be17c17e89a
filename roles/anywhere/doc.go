// Package anywhere is IAM Roles Anywhere as a source of role credentials:
// an X.509 certificate and its private key, read from PEM files, sign a
// CreateSession request (SigV4-X509) that returns the role's temporary
// credentials.
//
// It is imdsd's own small signer rather than AWS's helper module
// (github.com/aws/rolesanywhere-credential-helper): that module brings
// aws-sdk-go v1 and a cgo PKCS#11 binding into the daemon for one signed
// POST, and the SDK v2 rolesanywhere module is the control-plane API,
// without CreateSession. AWS's helper binary is what proves the test
// stand-in (internal/rastub) honest; this package is then checked against
// the same stand-in.
package anywhere
