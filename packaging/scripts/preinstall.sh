#!/bin/sh
# imdsd preinstall (deb preinst: install|upgrade; rpm %pre: 1|2).
# Creates the unprivileged system user and group the service runs as.
set -e
nologin=$(command -v nologin || echo /bin/false)
if ! getent group imdsd >/dev/null; then
	groupadd --system imdsd
fi
if ! getent passwd imdsd >/dev/null; then
	useradd --system --gid imdsd --no-create-home --home-dir /nonexistent \
		--shell "$nologin" --comment "imdsd metadata service" imdsd
fi
exit 0
