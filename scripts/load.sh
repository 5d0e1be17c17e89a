#!/usr/bin/env bash
# load.sh: a bounded load test of imdsd over loopback (it stops by itself).
#
# imdsd serves a role assumed from a local STS (moto) with its default
# limits on; scripts/loadgen then runs
#   1. LOAD_CLIENTS (256) concurrent clients for LOAD_DURATION (60s), each
#      looping over a token PUT, metadata GETs, the role listing and the
#      credential document, every answer checked;
#   2. a flood of LOAD_FLOOD (1,000,000) token PUTs;
# and fails unless there were zero errors, RSS grew less than 10 MB
# (/proc/PID/status, baseline after warm-up, final after the load and a
# 25 s settle, in which imdsd hands a burst's memory back: memtrim.go) and go_goroutines (from imdsd's metrics endpoint) is back at
# its baseline.
#
# Each simulated client connects from its own loopback address (127.0.x.y).
# The limits count a local caller by the uid owning its socket (issue 15),
# and every simulated client here is this script's uid: so the per-caller
# rate limit and connection cap are set to LOAD_CLIENTS times their
# defaults (1024/s, burst 2048, 128 connections), the share each client
# would have as its own caller. All traffic stays on 127.0.0.0/8.
#
#   scripts/load.sh
#   LOAD_DURATION=10s LOAD_FLOOD=100000 scripts/load.sh   # a quick run
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
lib_init

LOAD_CLIENTS=${LOAD_CLIENTS:-256}
LOAD_DURATION=${LOAD_DURATION:-60s}
LOAD_FLOOD=${LOAD_FLOOD:-1000000}

[[ $(uname -s) == Linux ]] || die "load.sh reads /proc: run it on Linux"
need_go
start_moto
build_imdsd
go build -o "$WORK/bin/loadgen" ./scripts/loadgen || die "go build ./scripts/loadgen failed"

port=$(free_port)
mport=$(free_port)
umask 077
# Info logs would be one audit line per credential document: millions
# here. The load test keeps warnings only.
cat >"$WORK/imdsd.yaml" <<YAML
listen: ["127.0.0.1:$port"]
role_arn: arn:aws:iam::123456789012:role/load
sts_endpoint: $MOTO_URL
region: us-east-1
metrics_listen: 127.0.0.1:$mport
control_socket: $WORK/control.sock
state_file: $WORK/state.json
log_level: warn
rate_limit: $((LOAD_CLIENTS * 1024))
rate_burst: $((LOAD_CLIENTS * 2048))
max_conns_per_client: $((LOAD_CLIENTS * 128))
YAML

clean_env_cmd
say "starting imdsd on 127.0.0.1:$port (metrics on :$mport)"
run_bg "$WORK/imdsd.log" "${CLEAN_ENV[@]}" AWS_ACCESS_KEY_ID=AKIALOADTEST AWS_SECRET_ACCESS_KEY=load-test-secret \
	"$IMDSD" serve --config "$WORK/imdsd.yaml"
IMDSD_PID=$BG_PID
wait_imdsd "http://127.0.0.1:$port" 30 || {
	cat "$WORK/imdsd.log" >&2
	die "imdsd did not serve credentials"
}

say "load: $LOAD_CLIENTS clients for $LOAD_DURATION, then $LOAD_FLOOD token requests"
rc=0
"$WORK/bin/loadgen" -url "http://127.0.0.1:$port" -metrics "http://127.0.0.1:$mport/metrics" -pid "$IMDSD_PID" \
	-clients "$LOAD_CLIENTS" -duration "$LOAD_DURATION" -flood "$LOAD_FLOOD" ${LOAD_SETTLE:+-settle "$LOAD_SETTLE"} || rc=$?
kill -0 "$IMDSD_PID" 2>/dev/null || die "imdsd died during the load"
stop_pid "$IMDSD_PID" || die "imdsd did not stop cleanly after the load"
if grep -q 'load-test-secret' "$WORK/imdsd.log"; then
	die "imdsd logged the source secret key"
fi
if ((rc != 0)); then
	tail -20 "$WORK/imdsd.log" >&2
	die "load test failed"
fi
echo "load: all checks passed"
