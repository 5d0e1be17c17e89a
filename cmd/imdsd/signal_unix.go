//go:build !windows

package main

import (
	"os"
	"os/signal"
	"syscall"
)

// notifyReload sends SIGHUP, the reload signal, to c.
func notifyReload(c chan<- os.Signal) { signal.Notify(c, syscall.SIGHUP) }
