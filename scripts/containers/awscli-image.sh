#!/usr/bin/env bash
# awscli-image.sh makes sure the local Docker image imdsd-e2e/awscli exists:
# a Debian bookworm root with Debian's awscli, built once with debootstrap
# under .cache/containers/ (which git ignores) and brought into Docker with
# `docker import`, since no image registry is reachable. Idempotent: a
# finished root is marked .done and reused; an existing image is kept.
#
# debootstrap does not resolve virtual packages, hence python3-cffi-backend
# (it provides what python3-cryptography needs) named explicitly.
#
# The mirror is the one this machine's apt already uses, read from its
# sources, so no host name is written here.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../lib.sh"

ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${IMDSD_CONTAINERS_CACHE:-$ROOT_DIR/.cache/containers}
ROOTFS=$CACHE/awscli-rootfs
IMAGE=imdsd-e2e/awscli:latest

if [[ ${1:-} != --rootfs-only ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
	exit 0
fi
if [[ ! -f $ROOTFS/.done ]]; then
	command -v debootstrap >/dev/null || {
		apt-get update -qq >/dev/null || true
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
	}
	rm -rf "$ROOTFS"
	mkdir -p "$CACHE"
	echo "awscli-image: debootstrap bookworm + awscli into $ROOTFS (once; a few minutes)" >&2
	debootstrap --variant=minbase --include=awscli,python3-cffi-backend bookworm "$ROOTFS" "$(debian_mirror awscli-image)" >"$ROOTFS.log" 2>&1 || {
		tail -20 "$ROOTFS.log" >&2
		exit 1
	}
	# Smaller image: no apt lists, docs or caches.
	rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/* "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/*
	touch "$ROOTFS/.done"
fi
[[ ${1:-} == --rootfs-only ]] && exit 0
tar -C "$ROOTFS" --exclude=./.done -c . | docker import -c 'CMD ["/bin/sh"]' - "$IMAGE" >/dev/null
