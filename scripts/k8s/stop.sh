#!/usr/bin/env bash
# stop.sh: stops the kube-apiserver, then the etcd, that start.sh started,
# by the PIDs in their run folder (TERM, then KILL after 10 s). It checks that
# each PID still is that binary, so a reused PID is never signalled.
#
# Usage: stop.sh [--wipe] [RUN_FOLDER | KUBECONFIG]
#   RUN_FOLDER   default $IMDSD_K8S_RUN; a kubeconfig path names its folder
#   --wipe       then delete what start.sh made there (etcd data, PKI, logs,
#                kubeconfig, env) and the folder itself if it is then empty
set -uo pipefail

WIPE=0
RUN=""
for a in "$@"; do
	case "$a" in
	--wipe) WIPE=1 ;;
	-h | --help)
		sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) RUN=$a ;;
	esac
done
RUN=${RUN:-${IMDSD_K8S_RUN:-}}
[ -n "$RUN" ] || {
	echo "stop.sh: no run folder: pass it (or the kubeconfig start.sh printed), or set IMDSD_K8S_RUN" >&2
	exit 2
}
[ -f "$RUN" ] && RUN=$(dirname "$RUN")
[ -d "$RUN" ] || exit 0

for spec in apiserver:kube-apiserver etcd:etcd; do
	name=${spec%%:*}
	bin=${spec#*:}
	f=$RUN/$name.pid
	[ -f "$f" ] || continue
	pid=$(cat "$f")
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$bin"; then
		kill -TERM "$pid"
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid"
			echo "stop.sh: killed $name (pid $pid) after 10 s" >&2
		else
			echo "stop.sh: stopped $name (pid $pid)" >&2
		fi
	fi
	rm -f "$f"
done

if [ "$WIPE" = 1 ]; then
	rm -rf "$RUN/etcd-data" "$RUN/pki"
	rm -f "$RUN/etcd.log" "$RUN/apiserver.log" "$RUN/kubeconfig" "$RUN/env"
	rmdir "$RUN" 2>/dev/null || true
	echo "stop.sh: wiped $RUN" >&2
fi
exit 0
