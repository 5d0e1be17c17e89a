// Package rastub is a stand-in for IAM Roles Anywhere CreateSession, for
// tests: no Roles Anywhere server runs on this machine (moto has none).
//
// It is no canned answer: each request's SigV4-X509 signature is verified
// the way the service describes it. The stand-in recomputes the canonical
// request and the string to sign from what it received, checks the
// signature with the leaf certificate's public key (RSA PKCS#1 v1.5 or
// ECDSA, SHA-256), verifies the leaf and its X-Amz-X509-Chain against the
// trust anchor's CA certificate at the stand-in's clock, and refuses
// anything else with the service's error shape (403, X-Amzn-ErrorType
// AccessDeniedException, a JSON message). On success it answers 201 with
// the documented CreateSession body. It records every request with its
// outcome.
//
// Its honesty is checked by AWS's own helper (rolesanywhere-credential-
// helper credential-process) in rastub_test.go: the real client passes, a
// tampered request fails. ca.go makes the test CA and certificates.
package rastub
