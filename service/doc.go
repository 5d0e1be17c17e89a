// Package service adapts github.com/kardianos/service to imdsd: it installs,
// controls and queries the system service (systemd, SysV init, launchd or
// the Windows service manager, whichever kardianos picks), and runs the
// daemon under that manager.
//
// The adapter is thin. Under a manager, Start launches the daemon's
// Run(ctx) in a goroutine and returns at once (managers time out a Start
// that blocks); Stop cancels the context and waits, bounded by a timeout,
// for Run to return. A Run that ends by itself (a listener failed) ends the
// process too, with its error, so the manager can restart it.
//
// Status maps what the manager reports onto exit codes a shell script can
// test, following the LSB init script status codes:
//
//	0  running
//	3  stopped (installed, not running; also a failed systemd unit)
//	4  not installed
//	1  unknown (the manager could not be asked)
package service
