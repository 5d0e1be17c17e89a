//go:build !unix

package config

import "os"

// checkConfigMode does nothing on Windows, where mode bits do not describe
// who may write a file; the installer's ACL does (SECURITY.md).
func checkConfigMode(*os.File) error { return nil }
