# shellcheck shell=bash
# lib.sh: helpers sourced by the scripts in this folder (demo.sh, e2e*.sh, ...).
#
# Every installer is idempotent: it checks first and installs only what is
# missing, through the ordinary clients (apt-get, npm, pip). Everything a
# script starts is registered here and stopped by the EXIT trap that
# lib_init sets, so a failing or interrupted script leaves nothing behind.

# ROOT is the repository's top folder.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Registered background processes, stopped by lib_cleanup.
LIB_PIDS=()
# WORK is a temporary folder for this run (binaries, logs), set by lib_init.
WORK=""

# say prints a progress line.
say() { printf '==> %s\n' "$*" >&2; }

# die prints an error and exits non-zero (which runs the cleanup trap).
die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

# lib_init makes the work folder and sets the cleanup traps.
# With KEEP_WORK=1 the folder is kept (for reading the logs afterwards).
lib_init() {
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/imdsd.XXXXXX")
	trap lib_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# lib_cleanup stops every registered process (TERM, then KILL after 5 s)
# and removes the work folder.
lib_cleanup() {
	local rc=$? pid i
	for pid in "${LIB_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${LIB_PIDS[@]}"; do
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	LIB_PIDS=()
	if [[ -n $WORK && -d $WORK ]]; then
		if [[ ${KEEP_WORK:-0} == 1 ]]; then
			say "kept logs in $WORK"
		else
			rm -rf "$WORK"
		fi
	fi
	return "$rc"
}

# run_bg LOGFILE CMD...: starts CMD in the background, output to LOGFILE,
# registers it for cleanup and sets BG_PID.
run_bg() {
	local logfile=$1
	shift
	"$@" >"$logfile" 2>&1 &
	BG_PID=$!
	LIB_PIDS+=("$BG_PID")
}

# stop_pid PID: stops one registered process with TERM and returns its
# exit status.
stop_pid() {
	local pid=$1 rc=0
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" || rc=$?
	local keep=() p
	for p in "${LIB_PIDS[@]}"; do
		[[ $p == "$pid" ]] || keep+=("$p")
	done
	LIB_PIDS=("${keep[@]}")
	return "$rc"
}

# as_root CMD...: runs CMD as root (directly, or through sudo).
as_root() {
	if [[ $(id -u) == 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		die "need root to run: $* (no sudo found)"
	fi
}

# need_apt PKG...: installs the Debian packages that are not installed yet.
need_apt() {
	local missing=() p
	for p in "$@"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	say "installing ${missing[*]} (apt-get)"
	export DEBIAN_FRONTEND=noninteractive
	if ! as_root apt-get install -y -q "${missing[@]}" >"${WORK:-/tmp}/apt.log" 2>&1; then
		as_root apt-get update -q >>"${WORK:-/tmp}/apt.log" 2>&1 || true
		as_root apt-get install -y -q "${missing[@]}" >>"${WORK:-/tmp}/apt.log" 2>&1 ||
			die "apt-get install ${missing[*]} failed; see ${WORK:-/tmp}/apt.log"
	fi
}

# need_go: the Go toolchain (to build imdsd).
need_go() {
	command -v go >/dev/null || die "go not found on PATH: install Go (see go.mod for the version)"
}

# need_node: node and npm, for the JavaScript SDK client.
need_node() {
	command -v node >/dev/null && command -v npm >/dev/null && return 0
	need_apt nodejs npm
}

# need_node_modules: installs scripts/js's pinned packages with `npm ci`
# when node_modules is missing or older than package-lock.json.
need_node_modules() {
	need_node
	local dir=$ROOT/scripts/js stamp sum
	stamp=$dir/node_modules/.imdsd-lock.sha256
	sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
	if [[ -f $stamp && $(cat "$stamp") == "$sum" ]]; then
		return 0
	fi
	say "installing the JavaScript SDK (npm ci in scripts/js)"
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >"${WORK:-/tmp}/npm.log" 2>&1) ||
		die "npm ci in scripts/js failed; see ${WORK:-/tmp}/npm.log"
	echo "$sum" >"$stamp"
}

# need_moto: moto's server (a local STS). Installs it with pip if missing.
need_moto() {
	command -v moto_server >/dev/null && return 0
	say "installing moto_server (pip install 'moto[server]')"
	local py
	py=$(command -v python3 || true)
	[[ -n $py ]] || need_apt python3 python3-pip
	python3 -m pip install -q 'moto[server]' >"${WORK:-/tmp}/pip.log" 2>&1 ||
		python3 -m pip install -q --break-system-packages 'moto[server]' >>"${WORK:-/tmp}/pip.log" 2>&1 || true
	hash -r
	command -v moto_server >/dev/null ||
		die "moto_server not found and pip could not install it: install it with pip install 'moto[server]' (see ${WORK:-/tmp}/pip.log)"
}

# aws_v1: prints the path of the AWS CLI v1 (the pip one), or fails.
aws_v1() {
	local c
	for c in $(type -ap aws) "$HOME/.pyenv/shims/aws"; do
		[[ -x $c ]] || continue
		if "$c" --version 2>&1 | grep -q '^aws-cli/1\.'; then
			echo "$c"
			return 0
		fi
	done
	return 1
}

# need_aws_v1: the AWS CLI v1 (pip's awscli), installed with pip if missing.
need_aws_v1() {
	aws_v1 >/dev/null && return 0
	say "installing the AWS CLI v1 (pip install awscli)"
	python3 -m pip install -q awscli >"${WORK:-/tmp}/pip-awscli.log" 2>&1 || true
	hash -r
	aws_v1 >/dev/null || die "AWS CLI v1 not found: install it with pip install awscli"
}

# need_aws_v2: Debian's awscli package (v2) at /usr/bin/aws.
need_aws_v2() {
	need_apt awscli
	/usr/bin/aws --version 2>&1 | grep -q '^aws-cli/2\.' ||
		die "/usr/bin/aws is not the AWS CLI v2 ($(/usr/bin/aws --version 2>&1))"
}

# need_boto3: boto3 in python3.
need_boto3() {
	python3 -c 'import boto3' 2>/dev/null && return 0
	say "installing boto3 (pip install boto3)"
	python3 -m pip install -q boto3 >"${WORK:-/tmp}/pip-boto3.log" 2>&1 || true
	python3 -c 'import boto3' 2>/dev/null ||
		die "boto3 not found for $(command -v python3) and pip could not install it: pip install boto3"
}

# free_port: prints a TCP port that is free on 127.0.0.1 and on [::1]
# (when the machine has IPv6), so one port serves both listeners.
free_port() {
	python3 - <<'EOF'
import socket
for _ in range(50):
    s4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s4.bind(("127.0.0.1", 0))
    port = s4.getsockname()[1]
    try:
        s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s6.bind(("::1", port))
        s6.close()
    except OSError as e:
        if e.errno == 98:  # EADDRINUSE: try another port
            s4.close()
            continue
    s4.close()
    print(port)
    break
else:
    raise SystemExit("no free port")
EOF
}

# wait_http URL [SECONDS]: waits until URL answers with 2xx.
wait_http() {
	local url=$1 limit=${2:-30} i
	for ((i = 0; i < limit * 10; i++)); do
		curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# wait_port HOST PORT [SECONDS]: waits until HOST:PORT accepts connections.
wait_port() {
	local host=$1 port=$2 limit=${3:-30} i
	for ((i = 0; i < limit * 10; i++)); do
		(exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# start_moto: starts moto_server (a local STS) on a free loopback port and
# sets MOTO_URL and MOTO_PID. Its log is $WORK/moto.log.
start_moto() {
	need_moto
	local port
	port=$(free_port)
	run_bg "$WORK/moto.log" moto_server -H 127.0.0.1 -p "$port"
	# shellcheck disable=SC2034 # used by the scripts that source this file
	MOTO_PID=$BG_PID
	MOTO_URL=http://127.0.0.1:$port
	wait_http "$MOTO_URL/moto-api/" 60 || {
		cat "$WORK/moto.log" >&2
		die "moto_server did not start on $MOTO_URL"
	}
}

# build_imdsd: builds the imdsd binary into $WORK and sets IMDSD.
build_imdsd() {
	need_go
	IMDSD=$WORK/bin/imdsd
	(cd "$ROOT" && go build -o "$IMDSD" ./cmd/imdsd) || die "go build ./cmd/imdsd failed"
}

# wait_imdsd URL [SECONDS]: waits until the imdsd at URL serves credentials
# (the role listing answers and the credential document says Success).
wait_imdsd() {
	local url=$1 limit=${2:-30} i role token
	for ((i = 0; i < limit * 10; i++)); do
		token=$(curl -fsS --max-time 1 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' \
			"$url/latest/api/token" 2>/dev/null) || token=""
		role=$(curl -fsS --max-time 1 -H "X-aws-ec2-metadata-token: $token" \
			"$url/latest/meta-data/iam/security-credentials/" 2>/dev/null) || role=""
		if [[ -n $role ]] && curl -fsS --max-time 1 -H "X-aws-ec2-metadata-token: $token" \
			"$url/latest/meta-data/iam/security-credentials/$role" 2>/dev/null | grep -q '"Code": *"Success"'; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# clean_env_cmd sets CLEAN_ENV to an env(1) command line that runs a
# command with no AWS_* variable and no shared config or credentials file,
# so the only credentials it can find are the ones its caller passes (for
# clients: the IMDS endpoint). Use "${CLEAN_ENV[@]}" NAME=VALUE... CMD...
# (env execs CMD, so a background job's $! is CMD itself).
clean_env_cmd() {
	local v
	CLEAN_ENV=(env)
	for v in $(compgen -e); do
		[[ $v == AWS_* ]] && CLEAN_ENV+=(-u "$v")
	done
	CLEAN_ENV+=(AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null)
}

# clean_env [NAME=VALUE...] CMD...: runs CMD in the clean environment of
# clean_env_cmd.
clean_env() {
	clean_env_cmd
	"${CLEAN_ENV[@]}" "$@"
}

# Checks, for the scripts that print one "PASS TEXT" or "FAIL TEXT" line
# per check and "N passed, M failed" at the end (checks_done). A script
# with checks of another shape defines its own pass, fail and check after
# sourcing this file.
PASSED=0
FAILED=0

# pass TEXT / fail TEXT: counts and prints one check's result.
pass() {
	PASSED=$((PASSED + 1))
	printf 'PASS %s\n' "$*"
}
fail() {
	FAILED=$((FAILED + 1))
	printf 'FAIL %s\n' "$*"
}

# check TEXT CMD...: passes when CMD succeeds; CMD's output goes to
# $WORK/checks.log.
check() {
	local text=$1
	shift
	if "$@" >>"$WORK/checks.log" 2>&1; then pass "$text"; else fail "$text"; fi
}

# not CMD...: succeeds when CMD fails (for check).
not() { ! "$@"; }

# checks_done: prints the total time since START (when set) and
# "N passed, M failed"; returns non-zero when a check failed.
checks_done() {
	[[ -z ${START:-} ]] || say "total $((SECONDS - START)) s"
	echo "$PASSED passed, $FAILED failed"
	((FAILED == 0))
}

# debian_mirror NAME: prints the first Debian archive URI of this machine's
# apt sources (so no host name is written in the scripts); without one it
# says so, prefixed with NAME, and exits.
debian_mirror() {
	local m=""
	if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
		m=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
	fi
	if [[ -z $m && -f /etc/apt/sources.list ]]; then
		m=$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)
	fi
	[[ -n $m ]] || { echo "$1: no Debian mirror found in /etc/apt/sources*" >&2; exit 1; }
	echo "$m"
}
