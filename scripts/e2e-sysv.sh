#!/usr/bin/env bash
# e2e-sysv.sh: proves the service commands on this machine, where
# kardianos/service picks SysV init (no systemd as PID 1).
#
# It runs on this very machine, so it is careful: it refuses to start when
# an imdsd service is already installed, uses a temporary config (a moto
# STS on loopback, a free non-default port on 127.0.0.1, link_local off so
# no address is added), and its exit trap uninstalls whatever it installed.
# Checks: install (and refusals: a config that does not validate, the
# default config it writes when there is none, a second install), status
# exit codes (4 not installed, 3 stopped, 0 running), start, the AWS CLI
# getting the role's ARN through the service, restart, stop, uninstall,
# and no leftovers (init script, rc links, pid and log files, process,
# listener); and link_local run without CAP_NET_ADMIN (as
# nobody) failing with an error that names it.
#
# Every check runs on every machine: an /etc/imdsd that is already here is
# moved aside for the run and put back by the exit trap (the script says
# where it is), so the count never depends on the machine. The script
# prints how many checks ran and fails when that is not EXPECTED_CHECKS.
# Prints "N passed, M failed"; exits non-zero on a failure. Run as root.
# KEEP_WORK=1 keeps the logs.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init

readonly ROLE_ARN=arn:aws:iam::123456789012:role/e2e-role
readonly WANT_ARN=arn:aws:sts::123456789012:assumed-role/e2e-role/
# Every run makes exactly this many checks (before the count's own check).
readonly EXPECTED_CHECKS=34
START=$SECONDS
# pass, fail, check and not are in lib.sh.
# code CMD...: prints CMD's exit code (its output goes to the log).
code() {
	local rc=0
	"$@" >>"$WORK/checks.log" 2>&1 || rc=$?
	echo "$rc"
}
# check_code WANT TEXT CMD...: CMD must exit WANT.
check_code() {
	local want=$1 text=$2 got
	shift 2
	got=$(code "$@")
	if [[ $got == "$want" ]]; then pass "$text (exit $got)"; else fail "$text: exit $got, want $want"; fi
}

[[ $(id -u) == 0 ]] || die "run as root: installing a SysV service needs it"
[[ -e /etc/init.d/imdsd ]] && die "/etc/init.d/imdsd exists: an imdsd service is installed here; not touching it"
[[ -e /etc/systemd/system/imdsd.service || -e /usr/lib/systemd/system/imdsd.service ]] &&
	die "an imdsd systemd unit exists here; not touching it"

build_imdsd
start_moto
PORT=$(free_port)
CONF=$WORK/etc
mkdir -p "$CONF"
cat >"$CONF/imdsd.yaml" <<YAML
role_arn: $ROLE_ARN
sts_endpoint: $MOTO_URL
region: us-east-1
listen: 127.0.0.1:$PORT
link_local: false
YAML
# The service reads the AWS shared files beside its config.
SOURCE_SECRET=e2e-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
(
	umask 077
	printf '[default]\naws_access_key_id = AKIAE2ESYSV000000001\naws_secret_access_key = %s\n' "$SOURCE_SECRET" >"$CONF/credentials"
)

RUNDIR_BEFORE=no
[[ -e /run/imdsd ]] && RUNDIR_BEFORE=yes
INSTALLED=0
# An /etc/imdsd already here (a config left by an uninstalled imdsd, a
# package's) would stop the check of the default config that install
# writes when there is none: it is moved aside for the run, and the exit
# trap puts it back.
ETC_SAVED=""
restore_etc() {
	[[ -n $ETC_SAVED ]] || return 0
	rm -rf /etc/imdsd
	mv "$ETC_SAVED" /etc/imdsd && say "put /etc/imdsd back" ||
		printf 'error: could not put /etc/imdsd back: it is in %s\n' "$ETC_SAVED" >&2
	ETC_SAVED=""
}
# The exit trap uninstalls what this run installed and puts /etc/imdsd
# back, before lib.sh's cleanup.
trap 'rc=$?; set +e; if ((INSTALLED)); then "$IMDSD" uninstall >/dev/null 2>&1 || true; fi; restore_etc; (exit $rc); lib_cleanup' EXIT
if [[ -e /etc/imdsd ]]; then
	# Beside it, not in $WORK: the same file system, and it survives the
	# cleanup should the restore fail.
	ETC_SAVED=$(mktemp -d /etc/imdsd.e2e-saved.XXXXXX)
	rmdir "$ETC_SAVED"
	mv /etc/imdsd "$ETC_SAVED"
	say "moved the existing /etc/imdsd to $ETC_SAVED for this run; the exit trap puts it back"
fi

imdsd() { "$IMDSD" "$@"; }
served() { wait_imdsd "http://127.0.0.1:$PORT" 15; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }
pidfile_process() { [[ -f /var/run/imdsd.pid ]] && kill -0 "$(cat /var/run/imdsd.pid)" 2>/dev/null; }
rc_links() { compgen -G '/etc/rc[0-6].d/[SK][0-9][0-9]imdsd' >/dev/null; }
leftovers() {
	[[ -e /etc/init.d/imdsd ]] || rc_links || [[ -e /var/run/imdsd.pid ]] ||
		[[ -e /var/log/imdsd.log ]] || [[ -e /var/log/imdsd.err ]]
}

platform=$(imdsd status 2>/dev/null | sed -n 's/.*(\(.*\)).*/\1/p' | tail -1 || true)
say "service manager: ${platform:-?}"
check_code 4 "status before install: not installed" imdsd status
check_code 4 "start before install: not installed" imdsd start
bad=$WORK/bad.yaml
echo "link_local: true" >"$bad"
check_code 2 "install refuses a config without a role" imdsd install --config "$bad"
check "nothing installed by the refused install" not leftovers

# Without --config, install writes the commented default to /etc/imdsd and
# refuses it (no role yet). /etc/imdsd is not here (moved aside above); the
# folder is removed again right after.
check "no /etc/imdsd before the install without a config" not test -e /etc/imdsd
check_code 2 "install without a config: writes the default, refuses it" imdsd install
check "the default config written is packaging/imdsd.yaml" cmp -s /etc/imdsd/imdsd.yaml "$ROOT/packaging/imdsd.yaml"
check "nothing installed by the refused install" not leftovers
rm -rf /etc/imdsd

check_code 0 "install --config (temp config)" imdsd install --config "$CONF/imdsd.yaml"
INSTALLED=1
check "init script /etc/init.d/imdsd written" test -x /etc/init.d/imdsd
check "rc links made" rc_links
check "init script runs serve with the temp config" grep -qF "$CONF/imdsd.yaml" /etc/init.d/imdsd
check_code 1 "second install refused" imdsd install --config "$CONF/imdsd.yaml"
check_code 3 "status after install: stopped" imdsd status

check_code 0 "start" imdsd start
check "serving on 127.0.0.1:$PORT" served
check_code 0 "status: running" imdsd status
out=$(clean_env AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:$PORT" AWS_DEFAULT_REGION=us-east-1 \
	aws sts get-caller-identity --endpoint-url "$MOTO_URL" --query Arn --output text 2>>"$WORK/clients.log" || true)
if [[ $out == "$WANT_ARN"* ]]; then pass "AWS CLI through the service: $out"; else fail "AWS CLI: got '$out', want $WANT_ARN..."; fi

old=$(cat /var/run/imdsd.pid 2>/dev/null || echo none)
check_code 0 "restart" imdsd restart
check "serving after restart" served
check "a new process after restart" test "$(cat /var/run/imdsd.pid 2>/dev/null || echo none)" != "$old"

check_code 0 "stop" imdsd stop
check_code 3 "status after stop: stopped" imdsd status
check "no process after stop" not pidfile_process
check "no listener after stop" not listening

check_code 0 "uninstall" imdsd uninstall
# shellcheck disable=SC2034 # read by the exit trap
INSTALLED=0
check_code 4 "status after uninstall: not installed" imdsd status
check_code 4 "second uninstall: not installed" imdsd uninstall
check "no init script, rc link, pid or log file left" not leftovers
check "no listener left" not listening
# The daemon's control socket folder: gone, unless it was here before the
# run (then only this run's socket must be gone).
if [[ $RUNDIR_BEFORE == no ]]; then
	check "no /run/imdsd left (the daemon's control socket folder)" not test -e /run/imdsd
else
	check "no control socket left in /run/imdsd (the folder was here before the run)" not test -e /run/imdsd/control.sock
fi
check "no imdsd process of this run left" not pgrep -f "^$IMDSD serve"
check "the source secret is in no log or output" not grep -rqF -- "$SOURCE_SECRET" "$WORK/checks.log" "$WORK/clients.log" "$WORK/moto.log"

# link_local without the privilege: a clear error naming it, nothing added
# (run as nobody, so it cannot touch this machine's loopback).
chmod 711 "$WORK" "$WORK/bin" # let nobody reach the binary (the secrets are 0600)
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH=/usr/bin:/bin HOME=/nonexistent \
	AWS_ACCESS_KEY_ID=AKIAE2ESYSV000000001 AWS_SECRET_ACCESS_KEY=unused "$IMDSD" serve --role-arn "$ROLE_ARN" \
	--sts-endpoint "$MOTO_URL" --link-local --listen 127.0.0.1:0 --log-format text 2>&1) && rc=0 || rc=$?
echo "$out" >>"$WORK/checks.log"
if [[ $rc == 1 && $out == *"CAP_NET_ADMIN"* ]]; then
	pass "link_local without privilege: exit 1, the error names CAP_NET_ADMIN"
else
	fail "link_local without privilege: exit $rc, output: $out"
fi

# The count of checks is the same on every machine: a check that could not
# run would show here.
ran=$((PASSED + FAILED))
if ((ran == EXPECTED_CHECKS)); then
	pass "$ran checks ran, as every run must"
else
	fail "$ran checks ran, want $EXPECTED_CHECKS: a check was skipped or added (update EXPECTED_CHECKS)"
fi
checks_done
