#!/usr/bin/env bash
# scripts/bench-ctstart.sh: container start → first credential (issue 19),
# for imdsd builds side by side in one run. Each argument is a git revision
# or an imdsd binary (at least one; give the one before a change first). For
# each build in turn, imdsd serves containers on docker0 (DNAT, as in
# scripts/e2e-containers.sh) against moto's STS, and BENCH_RUNS (50)
# `docker run`s of the static probe (scripts/containers/probe, FROM
# scratch) load credentials through the Go SDK's default chain (IMDS) the
# moment the process starts:
#   warm: the container's role (label imdsd.role) was fetched long before;
#   new:  the role is added to the config by a SIGHUP sent as `docker run`
#         starts, so its first fetch races the container's start.
# Prints, per build and case, p50/p99 of the time from the probe process's
# start to its credentials, and the number of runs that got none (the
# target is 0). Both builds serve one after the other (one owns
# 169.254.169.254 at a time), in the same run.
#
#   dockerd &                          # by hand: this script starts none
#   scripts/bench-ctstart.sh 88462e8 HEAD   # before/after issue 19's resolver change
#   BENCH_RUNS=20 scripts/bench-ctstart.sh f493b43 HEAD
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

[[ $(id -u) == 0 ]] || die "run as root: imdsd installs nftables rules for the containers"
docker info >/dev/null 2>&1 || die "no Docker engine answers: start dockerd by hand first (see scripts/e2e-containers.sh)"
command -v nft >/dev/null || die "nft not found: apt-get install nftables"
RUNS=${BENCH_RUNS:-50}
LABEL="imdsd-bench-ctstart=1"
ACCOUNT=123456789012
BIN=$ROOT/bench/.bin
mkdir -p "$BIN"
lib_init
trap 'docker ps -aq --filter label=$LABEL | xargs -r docker rm -f >/dev/null 2>&1 || true; lib_cleanup' EXIT
need_moto

# build REV: the path of imdsd built from git revision REV (or REV itself).
build() {
	local rev=$1 sha dir
	if [[ -x $rev && -f $rev ]]; then echo "$rev"; return; fi
	sha=$(git -C "$ROOT" rev-parse --short "$rev^{commit}") || die "$rev is neither a file nor a revision"
	if [[ ! -x $BIN/imdsd-$sha ]]; then
		dir=$(mktemp -d)
		git -C "$ROOT" worktree add -q --detach "$dir" "$sha"
		(cd "$dir" && CGO_ENABLED=0 go build -trimpath -o "$BIN/imdsd-$sha" ./cmd/imdsd)
		git -C "$ROOT" worktree remove --force "$dir"
	fi
	echo "$BIN/imdsd-$sha"
}
[[ $# -ge 1 ]] || die "usage: scripts/bench-ctstart.sh REV|BINARY..."
BUILDS=()
for rev in "$@"; do BUILDS+=("$rev=$(build "$rev")"); done

mkdir -p "$WORK/bin"
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$WORK/bin/probe" ./scripts/containers/probe) || die "go build probe failed"
tar -C "$WORK/bin" -c probe | docker import -c 'ENTRYPOINT ["/probe"]' - imdsd-bench/probe:latest >/dev/null

STS_PORT=$(free_port)
run_bg "$WORK/moto.log" moto_server -H 127.0.0.1 -p "$STS_PORT"
wait_http "http://127.0.0.1:$STS_PORT/moto-api/" 60 || die "moto_server did not start"

# config N: the config with the warm role and new roles 1..N.
config() {
	local i
	cat <<CFG
role_arn: arn:aws:iam::$ACCOUNT:role/hostrole
sts_endpoint: http://127.0.0.1:$STS_PORT
region: us-east-1
listen: [127.0.0.1:$LISTEN_PORT]
control_socket: $WORK/imdsd.sock
state_file: $WORK/state.json
roles:
  warm: {role_arn: "arn:aws:iam::$ACCOUNT:role/warm"}
CFG
	for ((i = 1; i <= $1; i++)); do echo "  new$i: {role_arn: \"arn:aws:iam::$ACCOUNT:role/new$i\"}"; done
	cat <<CFG
containers:
  enabled: true
  port: $CPORT
CFG
}

# stats NAME FILE: p50, p99 (nearest rank) and failures of the probe's lines.
stats() {
	local ok fails
	fails=$(grep -c -v ' OK$' "$2" || true)
	ok=$(awk '$1 == "FIRST" && $3 == "OK" {print $2}' "$2" | sort -n)
	awk -v name="$1" -v fails="$fails" -v runs="$RUNS" 'NF {v[++n] = $1}
		END {
			if (n == 0) { printf "%-34s no run got credentials; failures %d/%d\n", name, fails, runs; exit }
			p50 = v[int((n * 50 + 99) / 100)]; p99 = v[int((n * 99 + 99) / 100)]
			printf "%-34s p50 %7.1f ms  p99 %7.1f ms  failures %d/%d\n", name, p50, p99, fails, runs
		}' <<<"$ok"
}

RESULTS=()
for b in "${BUILDS[@]}"; do
	rev=${b%%=*} imdsd=${b#*=}
	LISTEN_PORT=$(free_port) CPORT=$(free_port)
	config 0 >"$WORK/imdsd.yaml"
	chmod 600 "$WORK/imdsd.yaml"
	say "$rev: imdsd $imdsd"
	run_bg "$WORK/imdsd-$rev.log" env AWS_ACCESS_KEY_ID=AKIAEXAMPLE AWS_SECRET_ACCESS_KEY=example \
		AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
		"$imdsd" serve --config "$WORK/imdsd.yaml" --log-format text
	pid=$BG_PID
	wait_imdsd "http://127.0.0.1:$LISTEN_PORT" 60 || { tail -20 "$WORK/imdsd-$rev.log" >&2; die "$rev: imdsd did not serve"; }
	: >"$WORK/warm-$rev.txt"
	for ((i = 1; i <= RUNS; i++)); do
		timeout 60 docker run --rm --label "$LABEL" --label imdsd.role=warm imdsd-bench/probe first - 2>/dev/null \
			>>"$WORK/warm-$rev.txt" || true
	done
	: >"$WORK/new-$rev.txt"
	for ((i = 1; i <= RUNS; i++)); do
		config "$i" >"$WORK/imdsd.yaml"
		kill -HUP "$pid"
		timeout 60 docker run --rm --label "$LABEL" --label "imdsd.role=new$i" imdsd-bench/probe first - 2>/dev/null \
			>>"$WORK/new-$rev.txt" || true
	done
	stop_pid "$pid" || true
	RESULTS+=("$(stats "$rev warm role" "$WORK/warm-$rev.txt")" "$(stats "$rev new role" "$WORK/new-$rev.txt")")
done
printf '\ncontainer start → first credential (%d docker runs each; ms from the probe process start)\n' "$RUNS"
printf '%s\n' "${RESULTS[@]}"
