#!/usr/bin/env bash
# nspawn-root.sh builds (once) the Debian bookworm root that
# scripts/e2e-systemd.sh boots with systemd-nspawn, under .cache/ (which git
# ignores). It is idempotent: a finished root is marked by its .done file
# (holding the package list it was built with; a changed list rebuilds) and
# reused; delete the folder to rebuild. IMDSD_NSPAWN_ROOT puts it elsewhere,
# e.g. outside the clone so that CI's fresh clones share one root.
#
# The mirror is the one this machine's apt already uses, read from its
# sources, so no host name is written here.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

ROOT_DIR=$(cd "$(dirname "$0")/.." && pwd)
ROOTFS=${IMDSD_NSPAWN_ROOT:-$ROOT_DIR/.cache/nspawn/bookworm}
PACKAGES=systemd,systemd-sysv,dbus,iproute2,procps,ca-certificates,python3-boto3,awscli,python3-cffi-backend,curl,rpm

need() {
	local missing=()
	command -v debootstrap >/dev/null || missing+=(debootstrap)
	command -v systemd-nspawn >/dev/null || missing+=(systemd-container)
	if ((${#missing[@]})); then
		echo "nspawn-root: installing ${missing[*]}" >&2
		apt-get update -qq >/dev/null || true
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
}

need
if [[ -f $ROOTFS/.done && $(cat "$ROOTFS/.done") == "$PACKAGES" ]]; then
	echo "$ROOTFS"
	exit 0
fi
rm -rf "$ROOTFS"
mkdir -p "$(dirname "$ROOTFS")"
echo "nspawn-root: debootstrap bookworm into $ROOTFS (once; a few minutes)" >&2
debootstrap --variant=minbase --include="$PACKAGES" bookworm "$ROOTFS" "$(debian_mirror nspawn-root)" >"$ROOTFS.log" 2>&1 || {
	tail -20 "$ROOTFS.log" >&2
	exit 1
}
# debootstrap resolves no virtual package and may leave one unconfigured:
# the root counts only when dpkg is clean and the clients import.
if [[ -n $(chroot "$ROOTFS" dpkg --audit) ]] || ! chroot "$ROOTFS" python3 -c 'import boto3, awscli' ||
	! chroot "$ROOTFS" systemctl --version >/dev/null; then
	chroot "$ROOTFS" dpkg --audit >&2 || true
	echo "nspawn-root: the root is incomplete; see $ROOTFS.log" >&2
	exit 1
fi
# A machine id and a root without a password prompt on the console.
systemd-machine-id-setup --root="$ROOTFS" >/dev/null 2>&1 || true
echo imdsd-e2e >"$ROOTFS/etc/hostname"
# Nothing in the container may wait on the network at boot.
rm -f "$ROOTFS"/etc/systemd/system/*.wants/systemd-networkd-wait-online.service
echo "$PACKAGES" >"$ROOTFS/.done"
echo "$ROOTFS"
