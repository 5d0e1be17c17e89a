#!/usr/bin/env bash
# e2e-systemd.sh: proves the imdsd .deb and .rpm under a real systemd.
#
# This machine has no systemd as PID 1, so the script boots one: a Debian
# bookworm root built once by scripts/nspawn-root.sh (cached under .cache/),
# run with `systemd-nspawn -b --keep-unit --register=no`, with its own
# network namespace (--network-veth: its own lo, so the link-local addresses
# never touch this machine's) and a throw-away overlay over the cached root
# (--volatile=overlay). Commands go in with nsenter. moto's STS runs on this
# machine, bound to the host end of the veth (10.213.7.1/30; the container
# is 10.213.7.2).
#
# Source credentials: root-only /etc/default/imdsd (0600), which the unit
# reads as an EnvironmentFile before it drops to the imdsd user; the config
# /etc/imdsd/imdsd.yaml is pre-seeded (dpkg --force-confold keeps it), so
# the package's postinstall starts the service at once.
#
# Checks: the service is active, enabled, runs as imdsd, `imdsd status` says
# so (and exits 3 when stopped); in the container the AWS CLI, boto3 and the
# Go SDK (scripts/gosdk, static) with no endpoint variable get the role's
# assumed-role ARN through 169.254.169.254, and in IPv6 endpoint mode through
# [fd00:ec2::254]; kill -9 of the main PID: back within 5 s and clients
# work; dpkg -r then dpkg -P leave no unit, user, address, listener, config.
# Then the .rpm in the same machine (Debian's rpm, its own database): rpm -i
# serves, rpm -U restarts it and keeps the user and the config (the old
# package's %preun and %postun run after the new %post), rpm -e leaves no
# unit, user, address, listener or binary.
# Prints "N passed, M failed"; exits non-zero on a failure. Run as root.
# KEEP_WORK=1 keeps the logs.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init

readonly MACHINE=imdsd-e2e
readonly VETH=ve-$MACHINE
readonly HOST_IP=10.213.7.1 GUEST_IP=10.213.7.2
readonly ACCOUNT=123456789012
readonly ROLE_ARN=arn:aws:iam::$ACCOUNT:role/e2e-role
readonly WANT_ARN=arn:aws:sts::$ACCOUNT:assumed-role/e2e-role/
START=$SECONDS
# pass, fail, check and not are in lib.sh.

[[ $(id -u) == 0 ]] || die "run as root: systemd-nspawn and the veth need it"
if ip link show "$VETH" >/dev/null 2>&1; then
	die "$VETH exists: a machine $MACHINE from an earlier run is still up; stop its systemd-nspawn first"
fi

# --- build: the cached root, the .deb, the Go probe; moto --------------------
say "root: scripts/nspawn-root.sh"
ROOTFS=$("$ROOT/scripts/nspawn-root.sh" | tail -1)
say "package: scripts/package.sh (amd64 .deb and .rpm, two versions each for the upgrades)"
mkdir -p "$WORK/share"
for v in 1 2; do
	built=$(cd "$ROOT" && VERSION=0.0.0~e2e$v ARCHES=amd64 FORMATS="deb rpm" scripts/package.sh)
	for ext in deb rpm; do
		pkg=$(grep "\.$ext\$" <<<"$built" | tail -1)
		[[ -n $pkg && -f $ROOT/$pkg ]] || die "scripts/package.sh built no .$ext"
		mv "$ROOT/$pkg" "$WORK/share/imdsd-$v.$ext"
	done
done
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$WORK/share/gosdk" ./scripts/gosdk) || die "go build ./scripts/gosdk failed"
need_moto

# --- boot --------------------------------------------------------------------
say "boot $MACHINE (systemd-nspawn -b)"
# The machine is not in lib.sh's list: stop_machine halts it (SIGTERM makes
# systemd-nspawn shut the container down), and only if that takes longer
# than 30 s kills the container's init and systemd-nspawn, by PID.
NSPAWN_PID=""
LEADER=""
stop_machine() {
	[[ -n $NSPAWN_PID ]] || return 0
	kill -TERM "$NSPAWN_PID" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		kill -0 "$NSPAWN_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$NSPAWN_PID" 2>/dev/null; then
		[[ -n $LEADER ]] && kill -KILL "$LEADER" 2>/dev/null
		kill -KILL "$NSPAWN_PID" 2>/dev/null || true
	fi
	wait "$NSPAWN_PID" 2>/dev/null || true
	NSPAWN_PID=""
}
trap 'rc=$?; set +e; stop_machine; (exit $rc); lib_cleanup' EXIT
systemd-nspawn -q -b -D "$ROOTFS" --machine="$MACHINE" \
	--keep-unit --register=no --network-veth --volatile=overlay --console=passive \
	--bind-ro="$WORK/share:/e2e" >"$WORK/nspawn.log" 2>&1 &
NSPAWN_PID=$!
for ((i = 0; i < 100; i++)); do
	# The container's init: the child of systemd-nspawn running systemd
	# (an intermediate child comes and goes first).
	LEADER=$(ps -o pid=,comm= --ppid "$NSPAWN_PID" 2>/dev/null | awk '$2 == "systemd" {print $1; exit}' || true)
	[[ -n $LEADER ]] && break
	sleep 0.1
done
[[ -n $LEADER ]] || { cat "$WORK/nspawn.log" >&2; die "systemd-nspawn started no container"; }

# guest CMD...: runs CMD inside the container, in a clean environment.
guest() {
	nsenter -t "$LEADER" -m -u -i -n -p -C -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"
}

# lo_has PATTERN: the container's lo has an address matching PATTERN.
lo_has() { guest ip -br addr show lo | grep -q -e "$@"; }
# unit_state: the unit's LoadState.
unit_gone() { [[ $(guest systemctl show -p LoadState --value imdsd) == not-found ]]; }
listener() { guest ss -Hltn | grep -q -e ':80 ' -e ':9254 '; }
started_logged() { guest journalctl -u imdsd --no-pager -o cat | grep -q '"msg":"started"'; }
host_lo_has() { ip -br addr show lo | grep -q -e 169.254.169.254 -e fd00:ec2::254; }
state=""
for ((i = 0; i < 600; i++)); do
	state=$(guest systemctl is-system-running 2>/dev/null || true)
	[[ $state == running || $state == degraded ]] && break
	sleep 0.1
done
[[ $state == running || $state == degraded ]] || die "container did not boot (state: $state)"
say "booted in $((SECONDS - START)) s (state $state)"

ip addr add "$HOST_IP/30" dev "$VETH"
ip link set "$VETH" up
guest ip addr add "$GUEST_IP/30" dev host0
guest ip link set host0 up

MOTO_PORT=5000
run_bg "$WORK/moto.log" moto_server -H "$HOST_IP" -p "$MOTO_PORT"
STS=http://$HOST_IP:$MOTO_PORT
wait_http "$STS/moto-api/" 60 || { cat "$WORK/moto.log" >&2; die "moto_server did not start on $STS"; }
guest curl -fsS -o /dev/null --max-time 5 "$STS/moto-api/" || die "the container cannot reach moto at $STS"

# --- install -----------------------------------------------------------------
say "install the .deb with a pre-seeded config"
SOURCE_SECRET=e2e-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
# seed: the config and the source credentials, as an admin writes them
# before installing.
seed() {
	guest mkdir -p /etc/imdsd
	guest sh -c "cat >/etc/imdsd/imdsd.yaml" <<YAML
role_arn: $ROLE_ARN
sts_endpoint: $STS
region: us-east-1
link_local: true
YAML
	guest sh -c "umask 077; cat >/etc/default/imdsd" <<ENV
AWS_ACCESS_KEY_ID=AKIAE2ESYSTEMD000001
AWS_SECRET_ACCESS_KEY=$SOURCE_SECRET
ENV
}
seed
T0=$SECONDS
if guest dpkg -i --force-confold --force-confdef /e2e/imdsd-1.deb >"$WORK/dpkg-i.log" 2>&1; then
	pass "dpkg -i imdsd.deb ($((SECONDS - T0)) s)"
else
	fail "dpkg -i imdsd.deb"
	cat "$WORK/dpkg-i.log"
fi

# wait_active: waits up to 10 s for the unit to be active with a main PID.
wait_active() {
	for ((i = 0; i < 100; i++)); do
		[[ $(guest systemctl is-active imdsd 2>/dev/null) == active ]] && return 0
		sleep 0.1
	done
	return 1
}
# wait_served URL: waits up to 10 s for the daemon to serve the role there.
wait_served() {
	for ((i = 0; i < 100; i++)); do
		guest curl -fsS --max-time 1 "$1/latest/meta-data/iam/security-credentials/" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

# check_running PREFIX: the installed service runs as it should.
check_running() {
	local main
	check "${1}service is active" wait_active
	check "${1}service is enabled" test "$(guest systemctl is-enabled imdsd)" = enabled
	check "${1}imdsd serves on 169.254.169.254:80" wait_served http://169.254.169.254
	main=$(guest systemctl show -p MainPID --value imdsd)
	check "${1}runs as the imdsd user" test "$(guest ps -o user= -p "$main" | tr -d ' ')" = imdsd
	check "${1}has only CAP_NET_ADMIN and CAP_NET_BIND_SERVICE" \
		test "$(guest grep CapEff "/proc/$main/status" | awk '{print $2}')" = 0000000000001400
	check "${1}169.254.169.254/32 on the container's lo" lo_has 169.254.169.254/32
	check "${1}fd00:ec2::254/128 on the container's lo" lo_has fd00:ec2::254/128
}
check_running ""
status_out=$(guest imdsd status 2>&1) && rc=0 || rc=$?
echo "$status_out" >"$WORK/status.log"
check "imdsd status: exit 0 (running)" test "$rc" = 0
check "this machine's lo is untouched" not host_lo_has
check "logs in the journal" started_logged

# --- clients, with no endpoint variable ----------------------------------------
# client NAME [VAR=VALUE...]: runs one client in the container; the only
# credentials it can find are the instance metadata service's.
client() {
	local name=$1
	shift
	case $name in
	awscli) guest "$@" AWS_DEFAULT_REGION=us-east-1 aws sts get-caller-identity --endpoint-url "$STS" --query Arn --output text ;;
	boto3) guest "$@" AWS_DEFAULT_REGION=us-east-1 python3 -c "import boto3; print(boto3.client('sts', endpoint_url='$STS').get_caller_identity()['Arn'])" ;;
	gosdk) guest "$@" AWS_DEFAULT_REGION=us-east-1 E2E_STS_ENDPOINT="$STS" /e2e/gosdk 2>/dev/null ;;
	esac
}
check_client() {
	local name=$1 mode=$2 out
	shift 2
	if out=$(client "$name" "$@" 2>>"$WORK/clients.log") && [[ $out == "$WANT_ARN"* ]]; then
		pass "$name ($mode, no endpoint variable): $out"
	else
		fail "$name ($mode): got '$out', want $WANT_ARN..."
	fi
}
for c in awscli boto3 gosdk; do
	check_client "$c" "IPv4 169.254.169.254"
done
for c in awscli boto3 gosdk; do
	check_client "$c" "IPv6 [fd00:ec2::254]" env AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6
done

# --- kill -9: systemd restarts it ----------------------------------------------
OLD_PID=$(guest systemctl show -p MainPID --value imdsd)
t0=$(date +%s%N)
guest kill -9 "$OLD_PID"
NEW_PID=0
for ((i = 0; i < 100; i++)); do
	NEW_PID=$(guest systemctl show -p MainPID --value imdsd)
	if [[ $NEW_PID != 0 && $NEW_PID != "$OLD_PID" ]] && guest curl -fsS --max-time 1 -o /dev/null \
		http://169.254.169.254/latest/meta-data/iam/security-credentials/ 2>/dev/null; then
		break
	fi
	sleep 0.1
done
ms=$((($(date +%s%N) - t0) / 1000000))
check "kill -9: back and serving within 5 s (new PID $NEW_PID after ${ms} ms)" \
	test "$NEW_PID" != 0 -a "$NEW_PID" != "$OLD_PID" -a "$ms" -lt 5000
check_client awscli "after kill -9"
check_client gosdk "IPv6 after kill -9" env AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6

# --- a role per systemd unit (units:), applied by a reload ------------------------
# The daemon finds the unit of the process that holds the client socket
# from its cgroup. A system unit named in units: gets that role; any other
# process gets the host's role; a user's own unit of the same name (which
# any user can create) never gets it.
guest cp /etc/imdsd/imdsd.yaml /etc/imdsd/imdsd.yaml.before-units
guest sh -c "cat >>/etc/imdsd/imdsd.yaml" <<YAML
roles:
  billing: {role_arn: arn:aws:iam::$ACCOUNT:role/e2e-billing}
units:
  - {unit: e2e-billing.service, role: billing}
YAML
check "imdsd reload applies units:" guest imdsd reload
# listing_in UNIT [systemd-run args...]: the role listing as a process of
# a transient unit sees it.
listing_in() {
	local unit=$1
	shift
	guest systemd-run --quiet --pipe --wait --collect --unit="$unit" "$@" \
		curl -sS --max-time 5 -w ' %{http_code}' http://169.254.169.254/latest/meta-data/iam/security-credentials/ 2>>"$WORK/units.log"
}
got=$(listing_in e2e-billing) || true
check "a process of e2e-billing.service gets the billing role (got '$got')" test "$got" = "e2e-billing 200"
got=$(listing_in e2e-billing -p User=nobody) || true
check "e2e-billing.service running as nobody still gets billing (got '$got')" test "$got" = "e2e-billing 200"
got=$(listing_in e2e-other) || true
check "a process of another unit gets the host's role (got '$got')" test "$got" = "e2e-role 200"
# A user's own unit: any user's systemd --user may run a unit named
# e2e-billing.service, and its processes then live in
# user.slice/user-UID.slice/user@UID.service/app.slice/e2e-billing.service.
# The container has no user bus for systemd-run --user, so the test puts a
# process of that user in exactly that cgroup (as root, as the user
# manager would) and asks from there.
guest useradd -M -r e2e-unit-user 2>/dev/null || true
uid=$(guest id -u e2e-unit-user)
cg2=$(guest findmnt -n -t cgroup2 -o TARGET | head -n 1)
ucg=$cg2/user.slice/user-$uid.slice/user@$uid.service/app.slice/e2e-billing.service
got=$(guest sh -c "mkdir -p '$ucg' && echo \$\$ >'$ucg/cgroup.procs' && exec setpriv --reuid=$uid --regid=$uid --clear-groups \
	curl -sS --max-time 5 -w ' %{http_code}' http://169.254.169.254/latest/meta-data/iam/security-credentials/" 2>>"$WORK/units.log") || true
check "a process of a user's own e2e-billing.service gets the host's role, not billing (got '$got')" test "$got" = "e2e-role 200"
[[ $FAILED == 0 ]] || { say "units.log:"; cat "$WORK/units.log" >&2; guest journalctl -u imdsd --no-pager -o cat | tail -20 >&2; }
for d in "$ucg" "${ucg%/*}" "${ucg%/*/*}" "${ucg%/*/*/*}"; do guest rmdir "$d" 2>/dev/null || true; done
guest userdel e2e-unit-user 2>/dev/null || true
guest mv /etc/imdsd/imdsd.yaml.before-units /etc/imdsd/imdsd.yaml
check "imdsd reload back to the one role" guest imdsd reload

# --- upgrade: the service restarts, the config stays ------------------------------
OLD_PID=$(guest systemctl show -p MainPID --value imdsd)
check "dpkg -i a newer version (upgrade)" guest dpkg -i --force-confold --force-confdef /e2e/imdsd-2.deb
# shellcheck disable=SC2016 # dpkg-query's own format, not a shell expansion
check "upgraded to 0.0.0~e2e2" test "$(guest dpkg-query -W -f '${Version}' imdsd)" = 0.0.0~e2e2
check "upgrade restarted the service" test "$(guest systemctl show -p MainPID --value imdsd)" != "$OLD_PID"
check "service active after the upgrade" wait_active
check "the config survived the upgrade" guest grep -qF "sts_endpoint: $STS" /etc/imdsd/imdsd.yaml
check "serving after the upgrade" wait_served http://169.254.169.254
check_client boto3 "after the upgrade"

# --- imdsd stop / status / start -------------------------------------------------
check "imdsd stop" guest imdsd stop
rc=0
guest imdsd status >/dev/null 2>&1 || rc=$?
check "imdsd status exits 3 when stopped (got $rc)" test "$rc" = 3
check "stop takes the addresses off lo" not lo_has 169.254.169.254 -e fd00:ec2::254
check "imdsd start" guest imdsd start
check "serving again after imdsd start" wait_served http://169.254.169.254

# --- removal -----------------------------------------------------------------
T0=$SECONDS
check "dpkg -r imdsd" guest dpkg -r imdsd
# check_removed WHAT: after WHAT, nothing of the service is left running
# or registered.
check_removed() {
	check "after $1: unit file gone" not guest test -e /usr/lib/systemd/system/imdsd.service
	check "after $1: service not loaded" unit_gone
	check "after $1: user imdsd gone" not guest getent passwd imdsd
	check "after $1: group imdsd gone" not guest getent group imdsd
	check "after $1: no link-local address" not lo_has 169.254.169.254 -e fd00:ec2::254
	check "after $1: no listener on :80 or :9254" not listener
	check "after $1: no imdsd process" not guest pgrep -x imdsd
}
check_removed "dpkg -r"
check "dpkg -P imdsd" guest dpkg -P imdsd
check "after dpkg -P: /etc/imdsd, /etc/default/imdsd, /var/lib/imdsd gone" not guest test -e /etc/imdsd -o -e /etc/default/imdsd -o -e /var/lib/imdsd
check "after dpkg -P: binary gone, package unknown to dpkg" not guest sh -c "test -e /usr/bin/imdsd || dpkg -s imdsd"
say "removal took $((SECONDS - T0)) s"

# --- the .rpm: install, upgrade, erase ----------------------------------------------
# The same machine, now without the .deb. Debian's rpm keeps its own
# database: --nodeps because systemd and the shadow tools are not in it,
# --force-debian because Debian's rpm refuses to install otherwise. The
# scriptlets run as on Fedora or RHEL: %pre, then %post with 1 (install) or
# 2 (upgrade); on upgrade the old package's %preun and %postun run with 1
# after the new %post, so they must leave the service, its user and its
# config alone.
say "the .rpm: install, upgrade, erase"
RPM_OPTS=(--nodeps --force-debian)
seed
T0=$SECONDS
if guest rpm -i "${RPM_OPTS[@]}" /e2e/imdsd-1.rpm >"$WORK/rpm-i.log" 2>&1; then
	pass "rpm -i imdsd.rpm ($((SECONDS - T0)) s)"
else
	fail "rpm -i imdsd.rpm"
	cat "$WORK/rpm-i.log"
fi
check_running "rpm: "
check "rpm: the pre-seeded config is kept (noreplace)" guest grep -qF "sts_endpoint: $STS" /etc/imdsd/imdsd.yaml
check_client awscli "rpm, IPv4 169.254.169.254"
check_client gosdk "rpm, IPv6 [fd00:ec2::254]" env AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6

OLD_PID=$(guest systemctl show -p MainPID --value imdsd)
if guest rpm -U "${RPM_OPTS[@]}" /e2e/imdsd-2.rpm >"$WORK/rpm-U.log" 2>&1; then
	pass "rpm -U a newer version (upgrade)"
else
	fail "rpm -U a newer version (upgrade)"
fi
# The old package's %preun and %postun must do nothing on an upgrade; one
# that ran its removal (userdel while the service runs, say) would print.
check "rpm -U printed nothing: the old package's removal scriptlets did nothing" test ! -s "$WORK/rpm-U.log"
check "rpm: upgraded to 0.0.0~e2e2" test "$(guest rpm -q --qf '%{VERSION}' imdsd)" = 0.0.0~e2e2
check "rpm: the upgrade restarted the service" test "$(guest systemctl show -p MainPID --value imdsd)" != "$OLD_PID"
check "rpm: service active after the upgrade" wait_active
check "rpm: user imdsd kept through the upgrade" guest getent passwd imdsd
check "rpm: service still enabled after the upgrade" test "$(guest systemctl is-enabled imdsd)" = enabled
check "rpm: the config survived the upgrade" guest grep -qF "sts_endpoint: $STS" /etc/imdsd/imdsd.yaml
check "rpm: serving after the upgrade" wait_served http://169.254.169.254
check_client boto3 "rpm, after the upgrade"

T0=$SECONDS
check "rpm -e imdsd" guest rpm -e "${RPM_OPTS[0]}" imdsd
check "after rpm -e: package unknown to rpm" not guest rpm -q imdsd
check_removed "rpm -e"
check "after rpm -e: binary and /var/lib/imdsd gone" not guest test -e /usr/bin/imdsd -o -e /var/lib/imdsd
# rpm keeps a config file an admin changed, as imdsd.yaml.rpmsave.
check "after rpm -e: the admin's config is kept" guest sh -c \
	"grep -qsF 'sts_endpoint: $STS' /etc/imdsd/imdsd.yaml.rpmsave || grep -qsF 'sts_endpoint: $STS' /etc/imdsd/imdsd.yaml"
say "rpm removal took $((SECONDS - T0)) s"

# --- secrets -------------------------------------------------------------------
guest journalctl --no-pager -o cat >"$WORK/journal.log" 2>&1 || true
check "the source secret is in no log or output" sh -c "! grep -rqF -- '$SOURCE_SECRET' '$WORK'/*.log"

T0=$SECONDS
stop_machine
check "machine halted, its veth gone ($((SECONDS - T0)) s)" not ip link show "$VETH"
checks_done
