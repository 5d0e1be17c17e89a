#!/usr/bin/env bash
# e2e-containers.sh: containers on this host get credentials from imdsd with
# no change to the image (issue 4), proved with a real Docker engine (and
# podman where it runs). Run as root; CI does.
#
# It installs what is missing (docker.io, nftables, busybox-static, podman,
# debootstrap through apt), starts its own dockerd and stops it at the end,
# runs moto's STS on docker0's address (so containers can ask STS who their
# credentials belong to), and leaves no container, network, rule or process
# behind. Images are built once, without a registry: a FROM-scratch image of
# a static Go probe built with the AWS SDK (scripts/containers/probe), one
# of Debian's static busybox, and a Debian root with Debian's awscli
# (scripts/containers/awscli-image.sh, cached under .cache/).
#
# Proofs (issue 4):
#  1. labelled role-a and role-b containers get their own role's ARN with no
#     endpoint variable (Go SDK probe and AWS CLI); an unlabelled one gets
#     nothing; an unknown label gets nothing and the log says why;
#  2. RELATIVE_URI in a container, FULL_URI plus the token file on the host;
#     a wrong or missing token is 401;
#  3. rules come back after `nft delete table` and after a dockerd restart;
#     a container started before the daemon and one after are served; after
#     the daemon stops no rule of its is left and Docker's are untouched;
#  4. a user-defined bridge network (and IPv6 on one), and podman.
#
# Prints "N passed, M failed" last; exits non-zero on any failure.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

[[ $(id -u) == 0 ]] || die "run as root: the daemon installs nftables rules and this script runs dockerd"

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); printf 'PASS %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL %s\n' "$*"; }
# check NAME OUTPUT PATTERN: passes when OUTPUT matches the glob PATTERN.
check() {
	# shellcheck disable=SC2053 # PATTERN is a glob on purpose
	if [[ $2 == $3 ]]; then pass "$1"; else fail "$1: got: $2"; fi
}

LABEL=imdsd-e2e=1        # every container and network this script makes
NET=imdsd-e2e-net        # user-defined bridge network
NET6=imdsd-e2e-net6      # user-defined bridge network with IPv6
ACCOUNT=123456789012
DOCKERD_PID=""
PODMAN_PID=""
IMDSD_PID=""

cleanup_containers() {
	if docker info >/dev/null 2>&1; then
		docker ps -aq --filter "label=$LABEL" | xargs -r docker rm -f >/dev/null 2>&1 || true
		docker network ls -q --filter "label=$LABEL" | xargs -r docker network rm >/dev/null 2>&1 || true
	fi
	if command -v podman >/dev/null; then
		podman ps -aq --filter "label=$LABEL" | xargs -r podman rm -f >/dev/null 2>&1 || true
	fi
}
e2e_cleanup() {
	local rc=$?
	cleanup_containers
	nft delete table inet imdsd 2>/dev/null || true # only if the daemon died before removing it
	lib_cleanup
	return "$rc"
}
lib_init
trap e2e_cleanup EXIT

# --- tools -----------------------------------------------------------------
need_apt docker.io nftables busybox-static iproute2 curl debootstrap
if ! command -v podman >/dev/null; then
	need_apt podman || true
fi
need_moto
build_imdsd
PROBE=$WORK/bin/probe
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$PROBE" ./scripts/containers/probe) || die "go build probe failed"

# --- dockerd ---------------------------------------------------------------
if docker info >/dev/null 2>&1; then
	die "a Docker engine is already running; stop it first (this script restarts dockerd as one of its proofs)"
fi
start_dockerd() {
	run_bg "$WORK/dockerd.log" dockerd --pidfile "$WORK/dockerd.pid"
	DOCKERD_PID=$BG_PID
	local i
	for ((i = 0; i < 600; i++)); do
		docker info >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	tail -20 "$WORK/dockerd.log" >&2
	die "dockerd did not start"
}
say "starting dockerd"
start_dockerd
GW=$(ip -4 -o addr show docker0 | awk '{split($4, a, "/"); print a[1]; exit}')
[[ -n $GW ]] || die "docker0 has no IPv4 address"

# --- images (no registry: imported) ---------------------------------------
say "importing images"
tar -C "$WORK/bin" -c probe | docker import -c 'ENTRYPOINT ["/probe"]' - imdsd-e2e/probe:latest >/dev/null
mkdir -p "$WORK/busybox/bin"
cp "$(command -v busybox)" "$WORK/busybox/bin/busybox"
tar -C "$WORK/busybox" -c . | docker import - imdsd-e2e/busybox:latest >/dev/null
"$ROOT/scripts/containers/awscli-image.sh" || die "awscli image failed"

# --- moto STS on docker0's address -----------------------------------------
STS_PORT=$(free_port)
STS=http://$GW:$STS_PORT
run_bg "$WORK/moto.log" moto_server -H "$GW" -p "$STS_PORT"
wait_http "$STS/moto-api/" 60 || die "moto_server did not start on $STS"

# A container that runs before the daemon starts (proof 3).
docker run -d --label "$LABEL" --label imdsd.role=role-a --name imdsd-e2e-early \
	imdsd-e2e/busybox /bin/busybox sleep 600 >/dev/null

# --- imdsd -----------------------------------------------------------------
LISTEN_PORT=$(free_port)
CPORT=$(free_port)
EPORT=$(free_port)
FULL_PORT=$(free_port)
TOKEN_FILE=$WORK/run/container-token
cat >"$WORK/imdsd.yaml" <<EOF
role_arn: arn:aws:iam::$ACCOUNT:role/hostrole
sts_endpoint: $STS
region: us-east-1
listen: [127.0.0.1:$LISTEN_PORT]
control_socket: $WORK/imdsd.sock
state_file: $WORK/state.json
roles:
  role-a: {role_arn: "arn:aws:iam::$ACCOUNT:role/role-a"}
  role-b: {role_arn: "arn:aws:iam::$ACCOUNT:role/role-b"}
containers:
  enabled: true
  port: $CPORT
  endpoint_port: $EPORT
container_endpoint:
  listen: [127.0.0.1:$FULL_PORT]
  token_file: $TOKEN_FILE
EOF
chmod 600 "$WORK/imdsd.yaml"
nft_others() { nft list ruleset 2>/dev/null | awk '/^table inet imdsd /{skip=1} skip&&/^}/{skip=0; next} !skip' | sed -E 's/counter packets [0-9]+ bytes [0-9]+//'; }

start_imdsd() {
	run_bg "$WORK/imdsd.log" env AWS_ACCESS_KEY_ID=AKIAEXAMPLE AWS_SECRET_ACCESS_KEY=example \
		"$IMDSD" serve --config "$WORK/imdsd.yaml" --log-format text
	IMDSD_PID=$BG_PID
	wait_imdsd "http://127.0.0.1:$LISTEN_PORT" 60 || {
		cat "$WORK/imdsd.log" >&2
		die "imdsd did not serve"
	}
}
say "starting imdsd (containers on, roles role-a and role-b)"
start_imdsd

# probe_run ARGS...: runs the Go probe in a fresh container (no endpoint variable unless ARGS set one).
probe_run() { timeout 90 docker run --rm --label "$LABEL" "$@" 2>&1 || true; }
aws_run() {
	timeout 90 docker run --rm --label "$LABEL" "$@" aws sts get-caller-identity \
		--endpoint-url "$STS" --region us-east-1 --query Arn --output text 2>&1 || true
}
arn() { echo "arn:aws:sts::$ACCOUNT:assumed-role/$1/"; }

# --- 1. a role per container, never the host's -----------------------------
say "1. roles per container"
check "1a Go SDK, label role-a, no endpoint variable: role-a via IMDS" \
	"$(probe_run --label imdsd.role=role-a imdsd-e2e/probe creds "$STS")" "ARN $(arn role-a)* SOURCE EC2RoleProvider"
check "1b Go SDK, label role-b: role-b" \
	"$(probe_run --label imdsd.role=role-b imdsd-e2e/probe creds "$STS")" "ARN $(arn role-b)* SOURCE EC2RoleProvider"
check "1c AWS CLI, label role-a: role-a" "$(aws_run --label imdsd.role=role-a imdsd-e2e/awscli)" "$(arn role-a)*"
check "1d AWS CLI, label role-b: role-b" "$(aws_run --label imdsd.role=role-b imdsd-e2e/awscli)" "$(arn role-b)*"
check "1e Go SDK, no label: no credentials (404, as without an instance profile)" \
	"$(probe_run imdsd-e2e/probe creds "$STS")" "NOCREDS*StatusCode: 404*"
check "1f AWS CLI, no label: no credentials" "$(aws_run imdsd-e2e/awscli)" "*Unable to locate credentials*"
check "1g Go SDK, label naming a role the config lacks: no credentials" \
	"$(probe_run --label imdsd.role=admin imdsd-e2e/probe creds "$STS")" "NOCREDS*StatusCode: 404*"
check "1h the log says why the unknown label was refused" \
	"$(grep 'does not offer' "$WORK/imdsd.log" || true)" "*imdsd.role=admin*"
check "1i the host keeps its own role" \
	"$(curl -fsS "http://127.0.0.1:$LISTEN_PORT/latest/meta-data/iam/security-credentials/" || true)" "hostrole"

# --- 2. the container credentials endpoint ---------------------------------
say "2. container credentials endpoint"
check "2a RELATIVE_URI in a container (Go SDK): role-b" \
	"$(probe_run --label imdsd.role=role-b -e AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v1/credentials imdsd-e2e/probe creds "$STS")" \
	"ARN $(arn role-b)* SOURCE CredentialsEndpointProvider"
check "2b RELATIVE_URI in a container (AWS CLI): role-a" \
	"$(aws_run --label imdsd.role=role-a -e AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v1/credentials imdsd-e2e/awscli)" "$(arn role-a)*"
check "2c RELATIVE_URI, unlabelled container: 404 with a JSON error" \
	"$(probe_run imdsd-e2e/probe get http://169.254.170.2/v1/credentials)" "404 keys=code,message code=NoRole"
mkdir -p "$WORK/home"
host_probe() {
	env -i PATH=/usr/bin:/bin HOME="$WORK/home" AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent \
		AWS_EC2_METADATA_DISABLED=true "$@" 2>&1 || true
}
check "2d token file is mode 640" "$(stat -c %a "$TOKEN_FILE" 2>&1)" "640"
check "2e FULL_URI + token file on the host (Go SDK): the host's role" \
	"$(host_probe AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:$FULL_PORT/v1/credentials" \
		AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$TOKEN_FILE" "$PROBE" creds "$STS")" \
	"ARN $(arn hostrole)* SOURCE CredentialsEndpointProvider"
check "2f FULL_URI with a wrong token: 401" \
	"$(host_probe PROBE_AUTHORIZATION=wrong "$PROBE" get "http://127.0.0.1:$FULL_PORT/v1/credentials")" "401 keys=code,message code=Unauthorized"
check "2g FULL_URI without a token: 401" \
	"$(host_probe "$PROBE" get "http://127.0.0.1:$FULL_PORT/v1/credentials")" "401 keys=code,message code=Unauthorized"
check "2h FULL_URI with a wrong token through the SDK: refused" \
	"$(host_probe AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:$FULL_PORT/v1/credentials" \
		AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong "$PROBE" creds "$STS")" "NOCREDS*Unauthorized*"

check "1j the bridge listener answers no one but its bridge (guard rule): the host is dropped" \
	"$(curl -sS --max-time 2 "http://$GW:$CPORT/latest/meta-data/" 2>&1 || true)" "*timed out*"

# --- 3. rules kept in place; lifecycle ---------------------------------------
say "3. rules kept in place"
# wait_rules PATTERN SECONDS: prints the seconds it took for the imdsd table
# to show PATTERN, or fails.
wait_rules() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		if nft list table inet imdsd 2>/dev/null | grep -q -- "$1"; then
			echo "$((i / 10)).$((i % 10))"
			return 0
		fi
		sleep 0.1
	done
	return 1
}
check "3a a container started before the daemon is served its role" \
	"$(timeout 30 docker exec imdsd-e2e-early /bin/busybox wget -qO- http://169.254.169.254/latest/meta-data/iam/security-credentials/ 2>&1 || true)" "role-a"
nft delete table inet imdsd
if took=$(wait_rules "dnat ip to $GW:$CPORT" 10); then
	pass "3b table deleted with nft: rules back after ${took}s"
else
	fail "3b table deleted with nft: rules not back within 10s"
fi
check "3c the log says it repaired them" "$(grep -c 'repaired' "$WORK/imdsd.log" || true)" "[1-9]*"
check "3d a container works after the repair" \
	"$(probe_run --label imdsd.role=role-a imdsd-e2e/probe creds "$STS")" "ARN $(arn role-a)*"
say "restarting dockerd"
stop_pid "$DOCKERD_PID" || true
start_dockerd
if took=$(wait_rules "dnat ip to $GW:$CPORT" 10); then
	pass "3e dockerd restarted: rules in place ${took}s after it answered"
else
	fail "3e dockerd restarted: rules not in place within 10s"
fi
check "3f a container started after dockerd's restart is served" \
	"$(probe_run --label imdsd.role=role-b imdsd-e2e/probe creds "$STS")" "ARN $(arn role-b)*"

# --- 4. user-defined networks, IPv6, podman -------------------------------
say "4. user-defined bridge network"
NET_ID=$(docker network create --label "$LABEL" "$NET")
BR=br-${NET_ID:0:12}
if took=$(wait_rules "iifname \"$BR\"" 10); then
	pass "4a new network $BR: rules for it after ${took}s"
else
	fail "4a new network $BR: no rules within 10s"
fi
check "4b Go SDK on $NET, label role-a: role-a" \
	"$(probe_run --network "$NET" --label imdsd.role=role-a imdsd-e2e/probe creds "$STS")" "ARN $(arn role-a)*"
check "4c AWS CLI on $NET, label role-b: role-b" "$(aws_run --network "$NET" --label imdsd.role=role-b imdsd-e2e/awscli)" "$(arn role-b)*"
check "4d RELATIVE_URI on $NET: role-b" \
	"$(probe_run --network "$NET" --label imdsd.role=role-b -e AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v1/credentials imdsd-e2e/probe creds "$STS")" \
	"ARN $(arn role-b)* SOURCE CredentialsEndpointProvider"
check "4e unlabelled on $NET: nothing" "$(probe_run --network "$NET" imdsd-e2e/probe creds "$STS")" "NOCREDS*"

NET6_ID=$(docker network create --label "$LABEL" --ipv6 --subnet 172.31.250.0/24 --subnet fd00:e2e:1::/64 "$NET6")
BR6=br-${NET6_ID:0:12}
if took=$(wait_rules "iifname \"$BR6\" ip6 daddr fd00:ec2::254" 10); then
	pass "4f IPv6 network $BR6: [fd00:ec2::254] rule after ${took}s"
else
	fail "4f IPv6 network $BR6: no IPv6 rule within 10s"
fi
v6=""
for _ in 1 2 3 4 5; do # the gateway's IPv6 address may still be in DAD
	v6=$(probe_run --network "$NET6" --label imdsd.role=role-b imdsd-e2e/probe get 'http://[fd00:ec2::254]/latest/meta-data/iam/security-credentials/')
	[[ $v6 == "200 role-b" ]] && break
	sleep 1
done
check "4g IMDS at [fd00:ec2::254] from a container on $NET6: role-b" "$v6" "200 role-b"
check "4h Go SDK in IPv6 endpoint mode on $NET6: role-b" \
	"$(probe_run --network "$NET6" --label imdsd.role=role-b -e AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6 imdsd-e2e/probe creds "$STS")" \
	"ARN $(arn role-b)* SOURCE EC2RoleProvider"

say "4. podman"
if command -v podman >/dev/null; then
	mkdir -p /run/podman
	run_bg "$WORK/podman.log" podman system service --time=0 unix:///run/podman/podman.sock
	PODMAN_PID=$BG_PID
	tar -C "$WORK/bin" -c probe | podman import -q --change 'ENTRYPOINT ["/probe"]' - localhost/imdsd-e2e/probe:latest >/dev/null
	tar -C "$WORK/busybox" -c . | podman import -q - localhost/imdsd-e2e/busybox:latest >/dev/null
	# podman sets rlimits above what this sandbox allows unless told.
	PODMAN_RUN=(podman run --label "$LABEL" --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
	# A first container brings podman's bridge up; the probes run once the
	# daemon's rules cover it.
	"${PODMAN_RUN[@]}" -d --name imdsd-e2e-pod-keep localhost/imdsd-e2e/busybox /bin/busybox sleep 600 >/dev/null 2>"$WORK/podman-run.log" || true
	PBR=$(ip -o link show type bridge | awk -F': ' '$2 ~ /^(podman|cni-podman)/ {print $2; exit}')
	if [[ -n $PBR ]] && took=$(wait_rules "iifname \"$PBR\"" 10); then
		pass "4i podman bridge $PBR: rules after ${took}s"
		check "4j podman, Go SDK, label role-a: role-a" \
			"$(timeout 90 "${PODMAN_RUN[@]}" --rm --label imdsd.role=role-a localhost/imdsd-e2e/probe creds "$STS" 2>&1 || true)" "ARN $(arn role-a)*"
		check "4k podman, unlabelled: nothing" \
			"$(timeout 90 "${PODMAN_RUN[@]}" --rm localhost/imdsd-e2e/probe creds "$STS" 2>&1 || true)" "NOCREDS*"
	else
		fail "4i podman bridge: none came up or no rules for it ($(tail -2 "$WORK/podman-run.log"))"
	fi
	podman rm -f imdsd-e2e-pod-keep >/dev/null 2>&1 || true
	stop_pid "$PODMAN_PID" || true
else
	say "podman cannot be installed here: its proof is skipped"
fi

# --- 3 (end). stop: nothing of the daemon's is left ------------------------
say "stopping imdsd"
before=$(nft_others)
if stop_pid "$IMDSD_PID"; then pass "3g imdsd stops cleanly on SIGTERM"; else fail "3g imdsd exit status on SIGTERM"; fi
if nft list table inet imdsd >/dev/null 2>&1; then fail "3h table inet imdsd left after stop"; else pass "3h no rule of imdsd left after stop"; fi
after=$(nft_others)
if [[ $before == "$after" ]]; then pass "3i Docker's own rules untouched by imdsd's stop"; else fail "3i other rules changed: $(diff <(echo "$before") <(echo "$after") | head -5)"; fi
check "3j token file removed" "$(ls "$TOKEN_FILE" 2>&1 || true)" "*No such file*"
if grep -q 'SecretAccessKey\|"Token"' "$WORK/imdsd.log"; then fail "3k secrets in the daemon log"; else pass "3k no secret in the daemon log"; fi

cleanup_containers
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
