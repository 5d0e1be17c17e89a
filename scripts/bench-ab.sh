#!/usr/bin/env bash
# scripts/bench-ab.sh: compare imdsd builds on the credential GET, for work
# on the hot path. Each argument is a git revision (built as the packages
# build imdsd) or the path of an imdsd binary; a revision may carry serve
# flags after a colon ("HEAD:--log-level warn"). Every build serves with
# scripts/bench.sh's settings next to the ceiling server; each round runs
# wrk (2 threads, BENCH_CONNS connections, BENCH_DURATION) against each in
# turn and prints req/s, the server's CPU time per request (utime+stime
# from /proc, in µs) and wrk's p99 latency, each also as a ratio to the
# ceiling's in the same round. Loopback only; stops by itself.
#
#   scripts/bench-ab.sh ad6ccf4 HEAD            # before/after
#   BENCH_ROUNDS=5 scripts/bench-ab.sh HEAD 'HEAD:--log-level warn'
#
# The server CPU per request is the steadier figure on a shared machine:
# req/s also moves with the load generator's share of the two cores.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/bench/.bin
OUT=$ROOT/bench/out/ab
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNS:-64}
DURATION=${BENCH_DURATION:-3s}
# BENCH_PIN=1: servers on CPU 0, wrk on CPU 1 (see scripts/bench.sh).
SRV=() GEN=()
if [[ ${BENCH_PIN:-0} == 1 ]]; then SRV=(taskset -c 0) GEN=(taskset -c 1); fi
ROLE=demo
CRED_PATH=/latest/meta-data/iam/security-credentials
P_MOTO=19400 P_CEIL=19401 P_FIRST=19410

[[ $# -ge 1 ]] || { echo "usage: scripts/bench-ab.sh REV|BINARY[:serve flags]..." >&2; exit 2; }
log() { printf '== %s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
for tool in wrk curl moto_server; do
	command -v "$tool" >/dev/null || { echo "bench-ab: $tool not found: run scripts/bench.sh once (it installs wrk) and scripts/test.sh (moto)" >&2; exit 1; }
done
mkdir -p "$BIN" "$OUT"
(cd "$ROOT/bench" && GOFLAGS=-mod=mod go build -o "$BIN/" ./cmd/ceiling)

# build REV: the path of imdsd built from git revision REV.
build() {
	local rev=$1 sha dir
	sha=$(git -C "$ROOT" rev-parse --short "$rev^{commit}") || { echo "bench-ab: $rev is neither a file nor a revision" >&2; exit 2; }
	if [[ ! -x $BIN/imdsd-$sha ]]; then
		dir=$(mktemp -d)
		git -C "$ROOT" worktree add -q --detach "$dir" "$sha"
		(cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN/imdsd-$sha" ./cmd/imdsd)
		git -C "$ROOT" worktree remove --force "$dir"
	fi
	echo "$BIN/imdsd-$sha"
}

PIDS=()
cleanup() {
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
export AWS_ACCESS_KEY_ID=AKIAEXAMPLEBENCH AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
moto_server -H 127.0.0.1 -p "$P_MOTO" >"$OUT/moto.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$P_MOTO/moto-api/" >/dev/null 2>&1 && break; sleep 0.1; done
# As scripts/bench.sh: the per-client rate limit out of reach (every
# request comes from 127.0.0.1), IMDSv2 required.
printf 'rate_limit: 1000000000\nrate_burst: 1000000000\n' >"$OUT/imdsd.yaml"
chmod 600 "$OUT/imdsd.yaml"

# token and wait_creds.
# shellcheck source=scripts/bench-lib.sh
. "$ROOT/scripts/bench-lib.sh"

declare -A PORT PID
NAMES=()
port=$P_FIRST
i=0
for spec in "$@"; do
	target=${spec%%:*} flags=""
	[[ $spec == *:* ]] && flags=${spec#*:}
	if [[ -f $target ]]; then bin=$target; else bin=$(build "$target"); fi
	name="$i:$target${flags:+ $flags}"
	# shellcheck disable=SC2086 # flags are words
	"${SRV[@]}" "$bin" serve --config "$OUT/imdsd.yaml" --role-arn "arn:aws:iam::123456789012:role/$ROLE" \
		--sts-endpoint "http://127.0.0.1:$P_MOTO" --imdsv2 required --listen "127.0.0.1:$port" \
		--control-socket "$OUT/$i.sock" --state-file "$OUT/$i.state.json" $flags 2>"$OUT/$i.log" &
	PIDS+=($!)
	PID[$name]=$! PORT[$name]=$port
	NAMES+=("$name")
	wait_creds "$port"
	port=$((port + 1)) i=$((i + 1))
done
t=$(token "${PORT[${NAMES[0]}]}")
curl -sf -H "X-aws-ec2-metadata-token: $t" "http://127.0.0.1:${PORT[${NAMES[0]}]}$CRED_PATH/$ROLE" >"$OUT/doc.json"
"${SRV[@]}" "$BIN/ceiling" -listen "127.0.0.1:$P_CEIL" -doc "$OUT/doc.json" -role "$ROLE" &
PIDS+=($!)
PID[ceiling]=$! PORT[ceiling]=$P_CEIL
NAMES+=(ceiling)
wait_creds "$P_CEIL"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
log "$ROUNDS rounds, wrk -t2 -c$CONNS -d$DURATION, credential GET; per build: req/s, server CPU µs per request, ratio to the ceiling's req/s"
for r in $(seq "$ROUNDS"); do
	declare -A RPS=() US=() P99=()
	for n in "${NAMES[@]}"; do
		t=$(token "${PORT[$n]}")
		c0=$(cpu_ticks "${PID[$n]}")
		out=$("${GEN[@]}" wrk --latency -t2 -c"$CONNS" -d"$DURATION" -H "X-aws-ec2-metadata-token: $t" "http://127.0.0.1:${PORT[$n]}$CRED_PATH/$ROLE")
		c1=$(cpu_ticks "${PID[$n]}")
		reqs=$(awk '/requests in/ {print $1}' <<<"$out")
		RPS[$n]=$(awk '/Requests\/sec/ {print int($2)}' <<<"$out")
		P99[$n]=$(awk '$1 == "99%" {v = $2; if (v ~ /us$/) v = v / 1000; else if (v ~ /ms$/) v = v + 0; else if (v ~ /s$/) v = v * 1000; printf "%.2f", v}' <<<"$out")
		US[$n]=$(awk -v a="$c0" -v b="$c1" -v n="$reqs" -v hz="$hz" 'BEGIN {printf "%.2f", (b - a) * 1e6 / hz / n}')
	done
	for n in "${NAMES[@]}"; do
		printf 'round %d  %-40s %7d req/s  %6s µs/req  %.2fx  p99 %6s ms  %.2fx\n' "$r" "$n" "${RPS[$n]}" "${US[$n]}" \
			"$(awk -v a="${RPS[$n]}" -v b="${RPS[ceiling]}" 'BEGIN {print a / b}')" \
			"${P99[$n]}" "$(awk -v a="${P99[$n]}" -v b="${P99[ceiling]}" 'BEGIN {print a / b}')"
	done
done
