#!/bin/sh
# imdsd postremove (deb postrm: remove|purge|upgrade|...; rpm %postun:
# 0 remove, 1 upgrade). On removal the unit is gone: reload systemd and
# delete the service user. On purge (deb) also the config folder, with any
# credentials an admin put there, /etc/default/imdsd and the state in
# /var/lib/imdsd.
case "$1" in
remove | purge | 0) ;;
*) exit 0 ;;
esac
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
	systemctl reset-failed imdsd.service >/dev/null 2>&1 || true
fi
if getent passwd imdsd >/dev/null; then
	userdel imdsd || true
fi
if getent group imdsd >/dev/null; then
	groupdel imdsd || true
fi
if [ "$1" = purge ]; then
	rm -rf /etc/imdsd /etc/default/imdsd /var/lib/imdsd
elif [ "$1" = 0 ]; then
	# rpm has no purge: the state goes, the config stays (as rpm keeps it).
	rm -rf /var/lib/imdsd
fi
exit 0
