package service

import "fmt"

// PlatformName names a service platform (service.Service.Platform, the
// kardianos/service names such as "unix-systemv") as users know it
// (issue 16 item 10: "not installed (unix-systemv)" is jargon).
func PlatformName(p string) string {
	switch p {
	case "linux-systemd":
		return "systemd"
	case "unix-systemv":
		return "SysV init"
	case "linux-upstart":
		return "Upstart"
	case "linux-openrc":
		return "OpenRC"
	case "linux-rcs":
		return "rc.d"
	case "linux-procd":
		return "procd"
	case "darwin-launchd":
		return "launchd"
	case "windows-service":
		return "Windows service manager"
	}
	return p
}

// StateText is what `imdsd status` says of the system service without a
// daemon to ask: "not installed as a system service (SysV init)", "stopped
// (system service, systemd)".
func StateText(st Status, platform string) string {
	if st == StatusNotInstalled {
		return fmt.Sprintf("%s as a system service (%s)", st, PlatformName(platform))
	}
	return fmt.Sprintf("%s (system service, %s)", st, PlatformName(platform))
}
