#!/usr/bin/env bash
# idle-rss.sh: imdsd's RSS with thousands of idle keep-alive connections
# (issue 15 item 4: 6,144 idle connections from 48 addresses took RSS from
# 22.6 to 140.6 MB). imdsd serves a role from a local STS (moto); loadgen
# -idle opens IDLE_CONNS (6144) connections over IDLE_ADDRS (48) loopback
# addresses, each one GET then idle, and prints RSS before and with them,
# and how many the daemon kept open. IDLE_MAX_CONNS is the daemon's
# max_conns (its default when unset; 0 is no limit). The per-caller cap is
# raised out of reach: every connection here is this script's uid.
#
#   scripts/idle-rss.sh                  # with the default limit, 4096
#   IDLE_MAX_CONNS=0 scripts/idle-rss.sh # without a limit
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
lib_init

IDLE_CONNS=${IDLE_CONNS:-6144}
IDLE_ADDRS=${IDLE_ADDRS:-48}

[[ $(uname -s) == Linux ]] || die "idle-rss.sh reads /proc: run it on Linux"
need_go
start_moto
build_imdsd
go build -o "$WORK/bin/loadgen" ./scripts/loadgen || die "go build ./scripts/loadgen failed"

port=$(free_port)
umask 077
cat >"$WORK/imdsd.yaml" <<YAML
listen: ["127.0.0.1:$port"]
role_arn: arn:aws:iam::123456789012:role/idle
sts_endpoint: $MOTO_URL
region: us-east-1
control_socket: $WORK/control.sock
state_file: $WORK/state.json
log_level: error
max_conns_per_client: $((IDLE_CONNS * 2))
${IDLE_MAX_CONNS:+max_conns: $IDLE_MAX_CONNS}
YAML

clean_env_cmd
run_bg "$WORK/imdsd.log" "${CLEAN_ENV[@]}" AWS_ACCESS_KEY_ID=AKIAIDLETEST AWS_SECRET_ACCESS_KEY=idle-test-secret \
	"$IMDSD" serve --config "$WORK/imdsd.yaml"
IMDSD_PID=$BG_PID
wait_imdsd "http://127.0.0.1:$port" 30 || {
	cat "$WORK/imdsd.log" >&2
	die "imdsd did not serve credentials"
}
say "idle: $IDLE_CONNS connections from $IDLE_ADDRS addresses, max_conns ${IDLE_MAX_CONNS:-default}"
rc=0
"$WORK/bin/loadgen" -url "http://127.0.0.1:$port" -pid "$IMDSD_PID" -idle "$IDLE_CONNS" \
	-clients "$IDLE_ADDRS" -settle "${IDLE_SETTLE:-5s}" || rc=$?
kill -0 "$IMDSD_PID" 2>/dev/null || die "imdsd died with the idle connections"
stop_pid "$IMDSD_PID" || die "imdsd did not stop cleanly"
((rc == 0)) || die "idle run failed"
