#!/bin/sh
# imdsd postinstall (deb postinst: configure; rpm %post: 1 install, 2 upgrade).
# Enables the service and starts it (restarts it on upgrade) when the
# config validates; until then it says what to edit.
set -e
config=/etc/imdsd/imdsd.yaml
case "$1" in
configure | 1 | 2) ;;
*) exit 0 ;;
esac
valid=no
# config check also resolves the roles the config names, which reads the
# AWS shared files: those the service reads (the unit's Environment= lines;
# imdsd install under SysV sets the same), not root's.
if AWS_SHARED_CREDENTIALS_FILE=/etc/imdsd/credentials AWS_CONFIG_FILE=/etc/imdsd/aws-config \
	/usr/bin/imdsd config check --config "$config" >/dev/null 2>&1; then
	valid=yes
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	systemctl enable imdsd.service >/dev/null 2>&1
	if [ "$valid" = yes ]; then
		systemctl restart imdsd.service
	fi
elif [ "$valid" = yes ]; then
	# No systemd: the SysV init script, written by imdsd itself.
	status=0
	/usr/bin/imdsd status >/dev/null 2>&1 || status=$?
	if [ "$status" -eq 4 ]; then
		/usr/bin/imdsd install --config "$config" >/dev/null
	fi
	/usr/bin/imdsd restart >/dev/null 2>&1 || /usr/bin/imdsd start
fi
if [ "$valid" = no ]; then
	echo "imdsd: set role_arn and source credentials in $config (see its comments)," >&2
	echo "imdsd: then start the service: systemctl start imdsd (or: imdsd install && imdsd start)" >&2
fi
exit 0
