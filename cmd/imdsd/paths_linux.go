package main

// systemConfigPath is the config file the system service reads.
func systemConfigPath() string { return "/etc/imdsd/imdsd.yaml" }
