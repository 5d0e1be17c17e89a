package service

// definitions lists the files whose presence means the service is
// installed: the launchd daemon plist.
func definitions(name string) []string {
	return []string{"/Library/LaunchDaemons/" + name + ".plist"}
}

// leftovers lists what kardianos' Uninstall leaves behind: the launchd
// job's log files.
func leftovers(name string) []string {
	return []string{"/usr/local/var/log/" + name + ".out.log", "/usr/local/var/log/" + name + ".err.log"}
}
