#!/usr/bin/env bash
# start.sh: starts a real etcd and kube-apiserver on 127.0.0.1 (free ports,
# no kubelet, scheduler or controller-manager), waits for /readyz and prints
# the kubeconfig path on stdout. Everything else goes to stderr.
#
#   kubeconfig=$(scripts/k8s/start.sh)      # ~3 s once build.sh has run
#   ...                                     # tests
#   scripts/k8s/stop.sh --wipe "$kubeconfig"
#
# The run folder (IMDSD_K8S_RUN, default a new mktemp folder) holds:
#   kubeconfig      cluster https://127.0.0.1:PORT, CA file, admin token
#   env             sourceable: IMDSD_K8S_SERVER, IMDSD_K8S_CA, IMDSD_K8S_TOKEN,
#                   IMDSD_K8S_ETCD, IMDSD_K8S_SA_ISSUER, KUBECONFIG, IMDSD_K8S_RUN
#   pki/            ca.crt/key, apiserver.crt/key (SAN IP:127.0.0.1), sa.key/pub
#                   (RSA service-account signing key), tokens.csv, admin.token
#   etcd.pid, apiserver.pid, etcd.log, apiserver.log, etcd-data/
# The admin token's user "imdsd-admin" is in system:masters; RBAC is on, so
# every other identity (e.g. a ServiceAccount token) only gets what its
# (Cluster)RoleBindings grant.
# If the run folder already has running servers, start.sh prints its
# kubeconfig and exits. A stopped run folder is restarted with its PKI and
# etcd data (stop.sh without --wipe).
#
# Env:
#   IMDSD_K8S_RUN            run folder (default: mktemp -d /tmp/imdsd-k8s.XXXXXX)
#   IMDSD_K8S_CACHE          where build.sh put the binaries (default /var/cache/imdsd/k8s)
#   K8S_VERSION              default v1.37.2 (the version pinned in apiserver/go.mod)
#   IMDSD_K8S_BIN            folder with kube-apiserver and etcd (default $IMDSD_K8S_CACHE/$K8S_VERSION)
#   IMDSD_K8S_READY_TIMEOUT  seconds to wait for /readyz (default 60)
#   IMDSD_K8S_APISERVER_ARGS extra kube-apiserver flags (word-split)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { printf 'start.sh: %s\n' "$*" >&2; }
die() {
	printf 'start.sh: error: %s\n' "$*" >&2
	exit 1
}

PIN_K8S=$(awk '$1 == "k8s.io/kubernetes" {print $2; exit} $1 == "require" && $2 == "k8s.io/kubernetes" {print $3; exit}' "$HERE/apiserver/go.mod" 2>/dev/null || true)
K8S_VERSION=${K8S_VERSION:-${PIN_K8S:-v1.37.2}}
CACHE=${IMDSD_K8S_CACHE:-/var/cache/imdsd/k8s}
BIN=${IMDSD_K8S_BIN:-$CACHE/$K8S_VERSION}
APISERVER_BIN=$BIN/kube-apiserver
ETCD_BIN=$BIN/etcd
TIMEOUT=${IMDSD_K8S_READY_TIMEOUT:-60}
ISSUER=https://kubernetes.default.svc.cluster.local

for b in "$APISERVER_BIN" "$ETCD_BIN"; do
	[ -x "$b" ] || die "$b is missing: run scripts/k8s/build.sh first (once per machine; 10-35 min cold)"
done
for c in openssl curl; do
	command -v "$c" >/dev/null || die "$c not found (apt-get install $c)"
done

if [ -n "${IMDSD_K8S_RUN:-}" ]; then
	RUN=$IMDSD_K8S_RUN
	mkdir -p "$RUN"
else
	RUN=$(mktemp -d "${TMPDIR:-/tmp}/imdsd-k8s.XXXXXX")
fi
RUN=$(cd "$RUN" && pwd)
PKI=$RUN/pki

# alive NAME: the process in NAME.pid runs and is that binary (not a reused PID).
alive() {
	local pid
	pid=$(cat "$RUN/$1.pid" 2>/dev/null) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2"
}

if alive apiserver kube-apiserver && alive etcd etcd; then
	log "already running in $RUN"
	echo "$RUN/kubeconfig"
	exit 0
fi
# A half-running folder (one server died): stop what is left, then start anew.
"$HERE/stop.sh" "$RUN" >&2 || true

# --- PKI, once per run folder.
mkdir -p "$PKI" "$RUN/etcd-data"
chmod 700 "$PKI" "$RUN/etcd-data"
if [ ! -s "$PKI/tokens.csv" ]; then
	log "creating the PKI in $PKI"
	(
		cd "$PKI"
		set -e
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt \
			-subj /CN=imdsd-test-ca -days 3650 2>/dev/null
		openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
			-subj /CN=kube-apiserver 2>/dev/null
		printf '%s\n' \
			'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local' \
			'basicConstraints=CA:FALSE' \
			'keyUsage=digitalSignature,keyEncipherment' \
			'extendedKeyUsage=serverAuth' >apiserver.ext
		openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
			-days 3650 -extfile apiserver.ext -out apiserver.crt 2>/dev/null
		openssl genrsa -out sa.key 2048 2>/dev/null
		openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
		openssl rand -hex 32 >admin.token
		# token,user,uid,"group1,group2"
		echo "$(cat admin.token),imdsd-admin,imdsd-admin-uid,system:masters" >tokens.csv.tmp
		mv tokens.csv.tmp tokens.csv
	) || die "openssl failed"
	chmod 600 "$PKI"/*.key "$PKI/admin.token" "$PKI/tokens.csv"
fi
TOKEN=$(cat "$PKI/admin.token")

# free_ports N: N distinct TCP ports nothing listens on now (the kernel picks them).
free_ports() {
	if command -v python3 >/dev/null; then
		python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
	else
		local used p out=() n=0
		used=$(ss -Htln 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u)
		while [ "$n" -lt "$1" ]; do
			p=$((20000 + RANDOM % 30000))
			grep -qx "$p" <<<"$used ${out[*]}" && continue
			out+=("$p")
			n=$((n + 1))
		done
		echo "${out[*]}"
	fi
}

# tail_logs: the end of both logs, for an error report.
tail_logs() {
	local f
	for f in etcd apiserver; do
		[ -s "$RUN/$f.log" ] || continue
		printf -- '--- last 30 lines of %s\n' "$RUN/$f.log" >&2
		tail -n 30 "$RUN/$f.log" >&2
	done
}

ETCD_EXTRA=()
# etcd < 3.4.31 (Debian's 3.4.23) cannot answer the on-demand progress
# requests of Kubernetes >= 1.3x's WatchList, so a watch without
# resourceVersion fails after 3 s with "Too large resource version";
# periodic progress notifications work around it.
if "$ETCD_BIN" --version 2>/dev/null | grep -q 'etcd Version: 3\.4\.'; then
	ETCD_EXTRA+=(--experimental-watch-progress-notify-interval=1s)
fi
# shellcheck disable=SC2206
API_EXTRA=(${IMDSD_K8S_APISERVER_ARGS:-})

T0=$(date +%s%N)
started=0
for _ in 1 2 3; do # a port may be taken between choosing and binding it
	read -r ETCD_PORT ETCD_PEER_PORT API_PORT <<<"$(free_ports 3)"

	# --- etcd
	setsid "$ETCD_BIN" --name imdsd-test --data-dir "$RUN/etcd-data" \
		--listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster "imdsd-test=http://127.0.0.1:$ETCD_PEER_PORT" \
		--logger zap --log-level warn --snapshot-count 10000 "${ETCD_EXTRA[@]}" \
		</dev/null >"$RUN/etcd.log" 2>&1 &
	echo $! >"$RUN/etcd.pid"
	etcd_ok=0
	for _ in $(seq 1 200); do # 20 s
		if curl -sf "http://127.0.0.1:$ETCD_PORT/health" >/dev/null 2>&1; then
			etcd_ok=1
			break
		fi
		alive etcd etcd || break
		sleep 0.1
	done
	if [ "$etcd_ok" = 0 ]; then
		if grep -q 'address already in use' "$RUN/etcd.log" 2>/dev/null; then
			log "etcd: a port was taken meanwhile; retrying with new ports"
			"$HERE/stop.sh" "$RUN" >&2 || true
			continue
		fi
		log "etcd did not become healthy on 127.0.0.1:$ETCD_PORT"
		tail_logs
		"$HERE/stop.sh" "$RUN" >&2 || true
		exit 1
	fi

	# --- kube-apiserver
	setsid "$APISERVER_BIN" \
		--etcd-servers "http://127.0.0.1:$ETCD_PORT" \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
		--tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
		--client-ca-file "$PKI/ca.crt" \
		--token-auth-file "$PKI/tokens.csv" \
		--authorization-mode RBAC \
		--service-account-issuer "$ISSUER" \
		--service-account-key-file "$PKI/sa.pub" \
		--service-account-signing-key-file "$PKI/sa.key" \
		--service-cluster-ip-range 10.96.0.0/16 \
		--endpoint-reconciler-type none \
		--enable-priority-and-fairness=false \
		--v 1 "${API_EXTRA[@]}" \
		</dev/null >"$RUN/apiserver.log" 2>&1 &
	echo $! >"$RUN/apiserver.pid"

	deadline=$(($(date +%s) + TIMEOUT))
	while [ "$(date +%s)" -lt "$deadline" ]; do
		if [ "$(curl -s --max-time 2 --cacert "$PKI/ca.crt" -H "Authorization: Bearer $TOKEN" \
			"https://127.0.0.1:$API_PORT/readyz" 2>/dev/null)" = ok ]; then
			started=1
			break 2
		fi
		alive apiserver kube-apiserver || break
		sleep 0.1
	done
	if ! alive apiserver kube-apiserver && grep -q 'address already in use' "$RUN/apiserver.log" 2>/dev/null; then
		log "kube-apiserver: a port was taken meanwhile; retrying with new ports"
		"$HERE/stop.sh" "$RUN" >&2 || true
		continue
	fi
	if alive apiserver kube-apiserver; then
		log "kube-apiserver on 127.0.0.1:$API_PORT not ready after ${TIMEOUT} s"
		curl -s --max-time 2 --cacert "$PKI/ca.crt" -H "Authorization: Bearer $TOKEN" \
			"https://127.0.0.1:$API_PORT/readyz?verbose" 2>/dev/null | grep -v '^\[+\]' >&2 || true
	else
		log "kube-apiserver exited before /readyz"
	fi
	tail_logs
	"$HERE/stop.sh" "$RUN" >&2 || true
	exit 1
done
[ "$started" = 1 ] || {
	log "could not find free ports in 3 attempts"
	exit 1
}
T1=$(date +%s%N)

cat >"$RUN/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: imdsd-test
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: imdsd-admin
  user:
    token: $TOKEN
contexts:
- name: imdsd-test
  context: {cluster: imdsd-test, user: imdsd-admin, namespace: default}
current-context: imdsd-test
EOF
chmod 600 "$RUN/kubeconfig"
cat >"$RUN/env" <<EOF
IMDSD_K8S_RUN=$RUN
IMDSD_K8S_SERVER=https://127.0.0.1:$API_PORT
IMDSD_K8S_CA=$PKI/ca.crt
IMDSD_K8S_TOKEN=$TOKEN
IMDSD_K8S_ETCD=http://127.0.0.1:$ETCD_PORT
IMDSD_K8S_SA_ISSUER=$ISSUER
IMDSD_K8S_VERSION=$K8S_VERSION
KUBECONFIG=$RUN/kubeconfig
EOF
chmod 600 "$RUN/env"
log "ready in $(awk -v a="$T0" -v b="$T1" 'BEGIN{printf "%.2f", (b - a) / 1e9}') s: kube-apiserver $K8S_VERSION https://127.0.0.1:$API_PORT (pid $(cat "$RUN/apiserver.pid")), etcd http://127.0.0.1:$ETCD_PORT (pid $(cat "$RUN/etcd.pid")); run folder $RUN"
echo "$RUN/kubeconfig"
