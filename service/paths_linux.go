package service

import "path/filepath"

// definitions lists the files whose presence means the service is
// installed: a systemd unit (written by install or shipped by a package)
// or a SysV init script.
func definitions(name string) []string {
	return []string{
		"/etc/systemd/system/" + name + ".service",
		"/usr/lib/systemd/system/" + name + ".service",
		"/lib/systemd/system/" + name + ".service",
		"/etc/init.d/" + name,
	}
}

// leftovers lists what kardianos' Uninstall leaves behind on Linux: the
// SysV rc links (it creates them but never removes them), the init
// script's pid file and its log files. Uninstall removes them.
func leftovers(name string) []string {
	var out []string
	for _, pattern := range []string{"/etc/rc[0-6].d/[SK][0-9][0-9]" + name} {
		m, _ := filepath.Glob(pattern)
		out = append(out, m...)
	}
	return append(out,
		"/var/run/"+name+".pid",
		"/var/log/"+name+".log",
		"/var/log/"+name+".err",
		"/var/log/"+name+".out",
	)
}
