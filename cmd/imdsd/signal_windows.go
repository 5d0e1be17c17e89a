//go:build windows

package main

import "os"

// notifyReload does nothing on Windows, which has no SIGHUP: `imdsd
// reload` goes through the control pipe.
func notifyReload(chan<- os.Signal) {}
