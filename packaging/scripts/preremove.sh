#!/bin/sh
# imdsd preremove (deb prerm: remove|upgrade|deconfigure|failed-upgrade;
# rpm %preun: 0 remove, 1 upgrade). On removal: stop and disable the
# service and take the metadata addresses off loopback. On upgrade nothing:
# the new version's postinstall restarts the service.
case "$1" in
remove | deconfigure | 0) ;;
*) exit 0 ;;
esac
if [ -d /run/systemd/system ]; then
	systemctl disable --now imdsd.service >/dev/null 2>&1 || true
else
	/usr/bin/imdsd uninstall >/dev/null 2>&1 || true
fi
# The daemon removes them when it stops; a daemon killed with -9 could not.
if command -v ip >/dev/null; then
	ip addr del 169.254.169.254/32 dev lo 2>/dev/null || true
	ip -6 addr del fd00:ec2::254/128 dev lo 2>/dev/null || true
fi
# Likewise the container DNAT rules, in nftables table "inet imdsd" (nat/).
if command -v nft >/dev/null; then
	nft delete table inet imdsd 2>/dev/null || true
fi
exit 0
