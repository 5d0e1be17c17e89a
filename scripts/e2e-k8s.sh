#!/usr/bin/env bash
# e2e-k8s.sh: the Kubernetes node agent (issue 17) end to end, on a real
# kube-apiserver and etcd (scripts/k8s/), with real SDKs in "pods": each
# pod is a network namespace behind a veth named like Calico's (caliN),
# whose address is published through the pod's status subresource as a
# kubelet would. imdsd runs in Kubernetes mode as on a node: its informers
# watch this node's pods, its nftables rules DNAT 169.254.169.254 and
# 169.254.170.23 from cali+ to its listener on the node address.
#
# There is no kubelet, scheduler or controller-manager: the script creates
# ServiceAccounts first, sets spec.nodeName, patches pod status and deletes
# with grace 0 (docs/kubernetes-testing.md).
#
# Proofs:
#  1. annotated pod → its role (Go SDK v2 and AWS CLI v2); unannotated →
#     nothing; role its namespace does not permit → nothing, with the reason
#     logged and a Kubernetes Event on the pod; a clients: rule by
#     namespace and service account → that role; asking for another role
#     by path → 404;
#  2. start race: a request sent before the pod's IP is published gets the
#     pod's role once it is, never another; a deleted pod is refused at
#     once; its IP reused by a new pod gets the new pod's role only;
#  3. the Pod Identity endpoint with a projected (TokenRequest) token: the
#     pod's role; another audience → 401; TokenReview once per token;
#  4. readiness, status, and no rule left after the daemon stops;
#  5. API server stopped: the last pods are served for kubernetes.grace,
#     then nothing; served again when it returns.
#
# Prints "N passed, M failed" last; exits non-zero on any failure.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

[[ $(id -u) == 0 ]] || die "run as root: pods are network namespaces and the daemon installs nftables rules"

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); printf 'PASS %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL %s\n' "$*"; }
# check NAME OUTPUT PATTERN: passes when OUTPUT matches the glob PATTERN.
check() {
	# shellcheck disable=SC2053 # PATTERN is a glob on purpose
	if [[ $2 == $3 ]]; then pass "$1"; else fail "$1: got: $2"; fi
}

ACCOUNT=123456789012
BASE=arn:aws:iam::$ACCOUNT:role/
NODE=e2e-node-1
NODE_IP=10.250.0.1 # the node address pods' DNAT reaches
PREFIX=imdsde2e    # netns names
PODS=()            # netns made, for cleanup
K8S_RUN=""

e2e_cleanup() {
	local rc=$?
	for ns in "${PODS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
	ip addr del "$NODE_IP/32" dev lo 2>/dev/null || true
	nft delete table inet imdsde2ecut 2>/dev/null || true
	[[ -n $K8S_RUN ]] && "$ROOT/scripts/k8s/stop.sh" --wipe "$K8S_RUN" >/dev/null 2>&1 || true
	lib_cleanup
	return "$rc"
}
lib_init
trap e2e_cleanup EXIT

# --- tools and servers -----------------------------------------------------
need_apt curl jq iproute2 nftables
need_moto
need_aws_v2
"$ROOT/scripts/k8s/build.sh" >&2
build_imdsd
PROBE=$WORK/bin/probe
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$PROBE" ./scripts/containers/probe) || die "go build probe failed"

# The node's address: on loopback (no dummy interfaces in every sandbox);
# pods reach it through their default route, as a node's own address.
ip addr add "$NODE_IP/32" dev lo

say "starting kube-apiserver and etcd"
export IMDSD_K8S_RUN=$WORK/k8s
kubeconfig=$("$ROOT/scripts/k8s/start.sh")
K8S_RUN=$IMDSD_K8S_RUN
# shellcheck disable=SC1091
source "$K8S_RUN/env"

# moto on the node address, so pods can ask STS who their credentials are.
MOTO_PORT=$(free_port)
run_bg "$WORK/moto.log" moto_server -H "$NODE_IP" -p "$MOTO_PORT"
STS=http://$NODE_IP:$MOTO_PORT
wait_http "$STS/moto-api/" 60 || die "moto_server did not start on $STS"

# api METHOD PATH [BODY [CONTENT-TYPE]]: the API as the admin; prints the
# body, then the HTTP status on its own last line.
api() {
	local args=(-s --max-time 10 --cacert "$IMDSD_K8S_CA" -X "$1"
		-H "Authorization: Bearer $IMDSD_K8S_TOKEN" -H 'Accept: application/json' -w '\n%{http_code}')
	[[ $# -ge 3 ]] && args+=(-H "Content-Type: ${4:-application/json}" --data-binary "$3")
	curl "${args[@]}" "$IMDSD_K8S_SERVER$2" || echo "000"
}
must() { # must EXPECTED-CODE METHOD PATH [BODY [TYPE]]
	local want=$1 r
	shift
	r=$(api "$@")
	[[ $(tail -n1 <<<"$r") == "$want" ]] || die "$1 $2: HTTP $(tail -n1 <<<"$r"): $(sed '$d' <<<"$r" | head -c 400)"
	sed '$d' <<<"$r"
}
namespace() { # namespace NAME ANNOTATIONS-JSON
	must 201 POST /api/v1/namespaces "{\"metadata\":{\"name\":\"$1\",\"annotations\":$2}}" >/dev/null
	must 201 POST "/api/v1/namespaces/$1/serviceaccounts" '{"metadata":{"name":"web"}}' >/dev/null
	must 201 POST "/api/v1/namespaces/$1/serviceaccounts" '{"metadata":{"name":"batch"}}' >/dev/null
}
create_pod() { # create_pod NS NAME SA ANNOTATIONS-JSON
	must 201 POST "/api/v1/namespaces/$1/pods" "{\"metadata\":{\"name\":\"$2\",\"annotations\":$4},
		\"spec\":{\"nodeName\":\"$NODE\",\"serviceAccountName\":\"$3\",\"containers\":[{\"name\":\"app\",\"image\":\"app\"}]}}" >/dev/null
}
publish_ip() { # publish_ip NS NAME IP: what the kubelet does once the sandbox is up
	must 200 PATCH "/api/v1/namespaces/$1/pods/$2/status" \
		"{\"status\":{\"phase\":\"Running\",\"podIP\":\"$3\",\"podIPs\":[{\"ip\":\"$3\"}],\"hostIP\":\"$NODE_IP\"}}" \
		application/merge-patch+json >/dev/null
}
delete_pod() { must 200 DELETE "/api/v1/namespaces/$1/pods/$2?gracePeriodSeconds=0" >/dev/null; }
pod_token() { # pod_token NS POD SA AUDIENCE: a projected-style token bound to the pod
	local uid
	uid=$(must 200 GET "/api/v1/namespaces/$1/pods/$2" | jq -r .metadata.uid)
	must 201 POST "/api/v1/namespaces/$1/serviceaccounts/$3/token" \
		"{\"spec\":{\"audiences\":[\"$4\"],\"expirationSeconds\":3600,\"boundObjectRef\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"name\":\"$2\",\"uid\":\"$uid\"}}}" |
		jq -j .status.token # as the kubelet writes it: no newline
}

# netns_pod N IP: a pod sandbox: netns $PREFIX-N behind cali-e2e-N.
netns_pod() {
	local ns=$PREFIX-$1 host=calie2e$1 i=$1
	PODS+=("$ns")
	ip netns add "$ns"
	ip link add "$host" type veth peer name eth0 netns "$ns"
	ip addr add "10.250.$i.1/30" dev "$host"
	ip link set "$host" up
	ip -n "$ns" addr add "$2/30" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" link set lo up
	ip -n "$ns" route add default via "10.250.$i.1"
}
clean_env_cmd
in_pod() { # in_pod N CMD...: CMD in pod N's netns with no credentials of its own
	local ns=$PREFIX-$1
	shift
	mkdir -p "$WORK/home"
	timeout 60 ip netns exec "$ns" "${CLEAN_ENV[@]}" HOME="$WORK/home" "$@" 2>&1 || true
}
probe() { in_pod "$1" "$PROBE" creds "$STS"; }
aws_cli() {
	in_pod "$1" aws sts get-caller-identity --endpoint-url "$STS" --region us-east-1 --query Arn --output text
}
arn() { echo "arn:aws:sts::$ACCOUNT:assumed-role/$1/"; }

# --- the cluster's objects -------------------------------------------------
say "namespaces, service accounts, pods"
namespace shop '{"iam.amazonaws.com/allowed-roles":"[\"shop-*\"]"}'
namespace jobs '{}'
netns_pod 1 10.250.1.2
netns_pod 2 10.250.2.2
netns_pod 3 10.250.3.2
netns_pod 4 10.250.4.2
netns_pod 5 10.250.5.2
netns_pod 6 10.250.6.2
create_pod shop web web '{"iam.amazonaws.com/role":"shop-web"}'
publish_ip shop web 10.250.1.2
create_pod shop plain web '{}'
publish_ip shop plain 10.250.2.2
create_pod shop greedy web '{"iam.amazonaws.com/role":"admin"}'
publish_ip shop greedy 10.250.3.2
create_pod jobs nightly batch '{}'
publish_ip jobs nightly 10.250.4.2

# --- imdsd, as the DaemonSet runs it ---------------------------------------
LISTEN_PORT=$(free_port)
METRICS_PORT=$(free_port)
cat >"$WORK/imdsd.yaml" <<EOF
listen: [127.0.0.1:$LISTEN_PORT]
control_socket: $WORK/ctl.sock
metrics_listen: 127.0.0.1:$METRICS_PORT
region: us-east-1
role_arn: ${BASE}node
sts_endpoint: $STS
roles:
  batch: {role_arn: ${BASE}batch, sts_endpoint: $STS, region: us-east-1}
clients:
  - {namespace: jobs, service_account: batch, role: batch}
kubernetes:
  enabled: true
  node_name: $NODE
  node_ip: $NODE_IP
  kubeconfig: $kubeconfig
  base_role_arn: $BASE
  sts_endpoint: $STS
  region: us-east-1
  interfaces: [calie2e+]
  grace: 20s
EOF
chmod 600 "$WORK/imdsd.yaml"
say "starting imdsd in Kubernetes mode"
run_bg "$WORK/imdsd.log" env AWS_ACCESS_KEY_ID=AKIAEXAMPLEK8SE2E01 AWS_SECRET_ACCESS_KEY=example \
	"$IMDSD" serve --config "$WORK/imdsd.yaml" --log-format text
IMDSD_PID=$BG_PID
ready=""
for _ in $(seq 1 300); do
	ready=$(curl -s --max-time 1 "http://127.0.0.1:$METRICS_PORT/readyz" || true)
	[[ $ready == ok* ]] && break
	sleep 0.1
done
check "0a /readyz: informer synced and DNAT installed" "$ready" "ok*"
[[ $ready == ok* ]] || {
	tail -n 40 "$WORK/imdsd.log" >&2
	die "imdsd did not become ready"
}

# --- 1. a role per pod -----------------------------------------------------
say "1. roles per pod"
check "1a annotated pod, Go SDK v2 through 169.254.169.254: its role" "$(probe 1)" "ARN $(arn shop-web)* SOURCE EC2RoleProvider"
check "1b annotated pod, AWS CLI v2: its role" "$(aws_cli 1)" "$(arn shop-web)*"
check "1c the session names the pod" "$(aws_cli 1)" "$(arn shop-web)shop.web"
check "1d unannotated pod: nothing (not the node's role)" "$(probe 2)" "NOCREDS*404*"
check "1e a role its namespace does not permit: nothing" "$(probe 3)" "NOCREDS*404*"
check "1f ... and the log says why" "$(grep -c 'greedy' "$WORK/imdsd.log" || true)" "[1-9]*"
events=$(must 200 GET "/api/v1/namespaces/shop/events?fieldSelector=involvedObject.name=greedy" | jq -r '.items[].message' | head -n 3)
check "1g ... and an Event on the pod says why" "$events" "*admin*"
check "1h clients: rule by namespace and service account: that role" "$(probe 4)" "ARN $(arn batch)* SOURCE EC2RoleProvider"
other=$(in_pod 1 "$PROBE" get http://169.254.169.254/latest/meta-data/iam/security-credentials/batch)
check "1i a pod asking by path for another role: 404" "$other" "404*"
check "1j the node's own processes (loopback) get the node's role, not a pod's" \
	"$(curl -s --max-time 2 "http://127.0.0.1:$LISTEN_PORT/latest/meta-data/iam/security-credentials/")" "node"

# --- 2. start race, deletion, IP reuse -------------------------------------
say "2. start race and IP reuse"
create_pod shop starting web '{"iam.amazonaws.com/role":"shop-start"}'
# The SDK asks before the kubelet has published the pod's IP.
(probe 5 >"$WORK/race.out") &
racer=$!
sleep 0.3 # the request is in flight and waiting for its pod
publish_ip shop starting 10.250.5.2
wait "$racer" || true
check "2a request before the IP is published: the pod's own role once it is" "$(cat "$WORK/race.out")" "ARN $(arn shop-start)*"
delete_pod shop web
check "2b deleted pod: refused at once" "$(probe 1)" "NOCREDS*"
create_pod shop web2 web '{"iam.amazonaws.com/role":"shop-other"}'
publish_ip shop web2 10.250.1.2
check "2c its IP reused by a new pod: the new pod's role only" "$(probe 1)" "ARN $(arn shop-other)*"

# --- 3. the Pod Identity endpoint ------------------------------------------
say "3. Pod Identity endpoint"
create_pod shop ident web '{"iam.amazonaws.com/role":"shop-ident"}'
publish_ip shop ident 10.250.6.2
pod_token shop ident web pods.eks.amazonaws.com >"$WORK/ident.token"
pod_token shop ident web sts.amazonaws.com >"$WORK/wrong.token"
chmod 644 "$WORK/ident.token" "$WORK/wrong.token"
pi() { in_pod 6 AWS_CONTAINER_CREDENTIALS_FULL_URI=http://169.254.170.23/v1/credentials AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$1" "$PROBE" creds "$STS"; }
check "3a projected token, Go SDK v2 via FULL_URI + token file: the pod's role" "$(pi "$WORK/ident.token")" "ARN $(arn shop-ident)* SOURCE CredentialsEndpointProvider"
pi "$WORK/ident.token" >/dev/null
check "3b a token for another audience: 401" \
	"$(in_pod 6 PROBE_AUTHORIZATION="$(cat "$WORK/wrong.token")" "$PROBE" get http://169.254.170.23/v1/credentials)" "401*"
reviews=$("$IMDSD" status --json --socket "$WORK/ctl.sock" | jq -c '.kubernetes.token_reviews')
check "3c TokenReview called once per token, not per request (2 tokens, 3 requests)" "$reviews" '*"calls":2*'
check "3d no token in the log" "$(grep -cF "$(cut -c1-40 "$WORK/ident.token")" "$WORK/imdsd.log" || true)" "0"

# --- 4. status -------------------------------------------------------------
st=$("$IMDSD" status --json --socket "$WORK/ctl.sock")
check "4a status lists the pods and their roles" "$(jq -r '.kubernetes.pods[] | select(.name=="nightly") | .role' <<<"$st")" "batch"
check "4b status: synced, not stale" "$(jq -c '[.kubernetes.synced, .kubernetes.stale]' <<<"$st")" '\[true,false\]'

# --- 5. API server outage --------------------------------------------------
say "5. API server stopped"
# Cut the node off from the API server (every packet to its port is
# reset, established watches included), as a partition would.
API_PORT=${IMDSD_K8S_SERVER##*:}
nft -f - <<NFT
table inet imdsde2ecut {
	chain out { type filter hook output priority 0; tcp dport $API_PORT reject with tcp reset; }
}
NFT
check "5a API server gone: the last known pods are still served (grace 20s)" "$(probe 4)" "ARN $(arn batch)*"
stale=""
for _ in $(seq 1 90); do
	stale=$("$IMDSD" status --json --socket "$WORK/ctl.sock" | jq -r .kubernetes.stale)
	[[ $stale == true ]] && break
	sleep 1
done
check "5b past the grace: status says stale" "$stale" "true"
check "5c ... and pods get nothing" "$(probe 4)" "NOCREDS*"
check "5d ... and /readyz is 503" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$METRICS_PORT/readyz")" "503"
nft delete table inet imdsde2ecut
back=""
for _ in $(seq 1 90); do
	back=$(probe 4)
	[[ $back == ARN* ]] && break
	sleep 1
done
check "5e API server back: served again" "$back" "ARN $(arn batch)*"

# --- 6. stop ---------------------------------------------------------------
stop_pid "$IMDSD_PID"
check "6a the daemon stopped: no rule of its is left" "$(nft list tables 2>/dev/null | grep -c 'inet imdsd$' || true)" "0"
check "6b no secret key in the log" "$(grep -c 'SecretAccessKey\|"Token"' "$WORK/imdsd.log" || true)" "0"

printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
[[ $FAILED == 0 ]]
