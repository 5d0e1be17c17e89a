#!/usr/bin/env bash
# smoke.sh: checks, with curl and jq only (no kubectl, no client-go), that
# the kube-apiserver from start.sh does what the node agent's tests need:
# pods on a node (spec.nodeName, a status patch as a kubelet would send),
# ServiceAccounts, a TokenRequest bound to a pod with an audience, a
# TokenReview with that audience naming the pod, and RBAC.
# Prints a PASS/FAIL line per check and "N passed, M failed"; exits non-zero
# on any failure.
#
# With IMDSD_K8S_RUN set it uses (or starts) the servers of that run folder
# and leaves them running; otherwise it starts its own in a new folder and
# stops and wipes them at the end.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

for c in curl jq; do
	command -v "$c" >/dev/null || {
		echo "smoke.sh: $c not found (apt-get install $c)" >&2
		exit 1
	}
done

OWN=0
if [ -z "${IMDSD_K8S_RUN:-}" ]; then
	OWN=1
fi
kubeconfig=$("$HERE/start.sh")
RUN=$(dirname "$kubeconfig")
if [ "$OWN" = 1 ]; then
	trap '"$HERE/stop.sh" --wipe "$RUN"' EXIT
fi
# shellcheck disable=SC1091
source "$RUN/env"

pass=0
fail=0
check() { # check NAME OK DETAIL
	if [ "$2" = 1 ]; then
		pass=$((pass + 1))
		printf 'PASS %s: %s\n' "$1" "$3"
	else
		fail=$((fail + 1))
		printf 'FAIL %s: %s\n' "$1" "$3"
	fi
}
ok() { if "$@"; then echo 1; else echo 0; fi; }

# api METHOD PATH [BODY [CONTENT-TYPE [TOKEN]]]: prints the body, then the
# HTTP status on its own last line.
api() {
	local args=(-s --max-time 10 --cacert "$IMDSD_K8S_CA" -X "$1"
		-H "Authorization: Bearer ${5:-$IMDSD_K8S_TOKEN}" -H 'Accept: application/json'
		-w '\n%{http_code}')
	[ $# -ge 3 ] && [ -n "$3" ] && args+=(-H "Content-Type: ${4:-application/json}" --data-binary "$3")
	curl "${args[@]}" "$IMDSD_K8S_SERVER$2" || echo "000"
}
body() { sed '$d' <<<"$1"; }
code() { tail -n 1 <<<"$1"; }
short() { body "$1" | jq -c '{kind, message, reason} | with_entries(select(.value != null))' 2>/dev/null | head -c 300; }

NS=imdsd-smoke-$(date +%s)-$RANDOM
NODE=smoke-node-1
POD=app
SA=agent
AUD=imdsd-smoke
IP=10.244.7.9

# 1. /readyz and /version
r=$(api GET /readyz)
check readyz "$(ok [ "$(code "$r")" = 200 ])" "HTTP $(code "$r") $(body "$r")"
r=$(api GET /version)
v=$(body "$r" | jq -r .gitVersion 2>/dev/null || true)
check version "$(ok [ "$v" = "$IMDSD_K8S_VERSION" ])" "gitVersion $v"

# 2. namespace, serviceaccount
r=$(api POST /api/v1/namespaces "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$NS\"}}")
check namespace "$(ok [ "$(code "$r")" = 201 ])" "create $NS: HTTP $(code "$r") $(short "$r")"
r=$(api POST "/api/v1/namespaces/$NS/serviceaccounts" "{\"metadata\":{\"name\":\"$SA\"}}")
check serviceaccount "$(ok [ "$(code "$r")" = 201 ])" "create $SA: HTTP $(code "$r") $(short "$r")"

# 3. a pod on a node (no scheduler: spec.nodeName set here)
r=$(api POST "/api/v1/namespaces/$NS/pods" "$(jq -nc --arg n "$POD" --arg node "$NODE" --arg sa "$SA" '{
	metadata: {name: $n, annotations: {"imdsd.io/role": "arn:aws:iam::123456789012:role/smoke"}},
	spec: {nodeName: $node, serviceAccountName: $sa, containers: [{name: "c", image: "busybox"}]}}')")
UID_=$(body "$r" | jq -r '.metadata.uid // empty' 2>/dev/null || true)
check pod "$(ok [ "$(code "$r")" = 201 ] && [ -n "$UID_" ])" "create $POD on $NODE: HTTP $(code "$r") uid=$UID_ $(short "$r")"

# 4. status subresource patch, as a kubelet would
r=$(api PATCH "/api/v1/namespaces/$NS/pods/$POD/status" \
	"{\"status\":{\"phase\":\"Running\",\"podIP\":\"$IP\",\"podIPs\":[{\"ip\":\"$IP\"}]}}" application/merge-patch+json)
check pod-status "$(ok [ "$(code "$r")" = 200 ] && [ "$(body "$r" | jq -r .status.podIP)" = "$IP" ])" \
	"patch status: HTTP $(code "$r") podIP=$(body "$r" | jq -r .status.podIP 2>/dev/null) phase=$(body "$r" | jq -r .status.phase 2>/dev/null)"

# 5. list this node's pods (the node agent's field selector)
r=$(api GET "/api/v1/pods?fieldSelector=spec.nodeName%3D$NODE")
got=$(body "$r" | jq -r --arg ns "$NS" '.items[] | select(.metadata.namespace == $ns) | "\(.metadata.name) \(.status.podIP) \(.spec.serviceAccountName)"' 2>/dev/null || true)
check node-pods "$(ok [ "$got" = "$POD $IP $SA" ])" "fieldSelector spec.nodeName=$NODE: HTTP $(code "$r") [$got]"

# 6. TokenRequest bound to the pod, with an audience
r=$(api POST "/api/v1/namespaces/$NS/serviceaccounts/$SA/token" "$(jq -nc --arg aud "$AUD" --arg pod "$POD" --arg uid "$UID_" '{
	apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest",
	spec: {audiences: [$aud], expirationSeconds: 600,
	       boundObjectRef: {apiVersion: "v1", kind: "Pod", name: $pod, uid: $uid}}}')")
TOK=$(body "$r" | jq -r '.status.token // empty' 2>/dev/null || true)
check token-request "$(ok [ "$(code "$r")" = 201 ] && [ -n "$TOK" ])" "HTTP $(code "$r") token ${#TOK} bytes, expires $(body "$r" | jq -r .status.expirationTimestamp 2>/dev/null)"

# review TOKEN AUDIENCE: a TokenReview's response (body + status line).
review() {
	api POST /apis/authentication.k8s.io/v1/tokenreviews "$(jq -nc --arg t "$1" --arg aud "$2" '{
		apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: {token: $t, audiences: [$aud]}}')"
}
authenticated() { body "$1" | jq -r '.status.authenticated // false' 2>/dev/null || echo false; }

# 7. TokenReview with that audience: authenticated, the pod in extra
r=$(review "$TOK" "$AUD")
u=$(body "$r" | jq -r '.status.user.username // empty' 2>/dev/null || true)
xpod=$(body "$r" | jq -r '.status.user.extra["authentication.kubernetes.io/pod-name"][0] // empty' 2>/dev/null || true)
xuid=$(body "$r" | jq -r '.status.user.extra["authentication.kubernetes.io/pod-uid"][0] // empty' 2>/dev/null || true)
xnode=$(body "$r" | jq -r '.status.user.extra["authentication.kubernetes.io/node-name"][0] // empty' 2>/dev/null || true)
check token-review "$(ok [ "$(authenticated "$r")" = true ] && [ "$u" = "system:serviceaccount:$NS:$SA" ])" \
	"HTTP $(code "$r") authenticated=$(authenticated "$r") user=$u audiences=$(body "$r" | jq -c .status.audiences 2>/dev/null)"
check token-review-extra "$(ok [ "$xpod" = "$POD" ] && [ "$xuid" = "$UID_" ])" "pod-name=$xpod pod-uid=$xuid node-name=$xnode"

# 8. rejections: another audience, a tampered signature
r=$(review "$TOK" other-audience)
check wrong-audience "$(ok [ "$(authenticated "$r")" = false ])" "authenticated=$(authenticated "$r") $(body "$r" | jq -r '.status.error // empty' 2>/dev/null | head -c 120)"
# flip SEGMENT: SEGMENT with its 11th character changed (a character in the
# middle carries 6 bits of data, unlike the last one).
flip() {
	local c=${1:10:1} d=A
	[ "$c" = A ] && d=B
	echo "${1:0:10}$d${1:11}"
}
IFS=. read -r jh jp js <<<"$TOK"
r=$(review "$jh.$jp.$(flip "$js")" "$AUD")
check tampered-signature "$(ok [ "$(authenticated "$r")" = false ])" "authenticated=$(authenticated "$r")"
r=$(review "$jh.$(flip "$jp").$js" "$AUD")
check tampered-payload "$(ok [ "$(authenticated "$r")" = false ])" "authenticated=$(authenticated "$r")"

# 9. RBAC is on: the ServiceAccount (an API-audience token) may do nothing
# until a RoleBinding grants it
r=$(api POST "/api/v1/namespaces/$NS/serviceaccounts/$SA/token" '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":600}}')
SATOK=$(body "$r" | jq -r '.status.token // empty' 2>/dev/null || true)
r=$(api GET "/api/v1/namespaces/$NS/pods" "" "" "$SATOK")
check rbac-deny "$(ok [ "$(code "$r")" = 403 ])" "serviceaccount lists pods without a binding: HTTP $(code "$r")"
api POST "/apis/rbac.authorization.k8s.io/v1/namespaces/$NS/roles" \
	'{"metadata":{"name":"pod-reader"},"rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get","list","watch"]}]}' >/dev/null
api POST "/apis/rbac.authorization.k8s.io/v1/namespaces/$NS/rolebindings" "$(jq -nc --arg sa "$SA" --arg ns "$NS" '{
	metadata: {name: "pod-reader"}, roleRef: {apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "pod-reader"},
	subjects: [{kind: "ServiceAccount", name: $sa, namespace: $ns}]}')" >/dev/null
for _ in $(seq 1 50); do # the RBAC authorizer's informers catch up within a second or so
	r=$(api GET "/api/v1/namespaces/$NS/pods" "" "" "$SATOK")
	[ "$(code "$r")" = 200 ] && break
	sleep 0.1
done
check rbac-allow "$(ok [ "$(code "$r")" = 200 ])" "after a RoleBinding: HTTP $(code "$r")"

# 10. a deleted pod's token is refused. kube-apiserver caches a successful
# token authentication for 10 s (TokenSuccessCacheTTL, no flag), so the
# refusal comes up to 10 s after the deletion: poll for 15 s.
r=$(api DELETE "/api/v1/namespaces/$NS/pods/$POD?gracePeriodSeconds=0")
check pod-delete "$(ok [ "$(code "$r")" = 200 ])" "delete with gracePeriodSeconds=0: HTTP $(code "$r")"
t0=$(date +%s%N)
deadline=$(($(date +%s) + 15))
while :; do
	r=$(review "$TOK" "$AUD")
	[ "$(authenticated "$r")" = false ] && break
	[ "$(date +%s)" -lt "$deadline" ] || break
	sleep 0.2
done
check deleted-pod "$(ok [ "$(authenticated "$r")" = false ])" "authenticated=$(authenticated "$r") after $(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN{printf "%.1f", (b - a) / 1e9}') s: $(body "$r" | jq -r '.status.error // empty' 2>/dev/null | head -c 120)"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
