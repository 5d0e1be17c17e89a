package nat

import "os"

// isBridge reports whether the interface is a Linux bridge: the kernel
// shows a bridge/ folder for it in sysfs.
func isBridge(name string) bool {
	_, err := os.Stat("/sys/class/net/" + name + "/bridge")
	return err == nil
}
