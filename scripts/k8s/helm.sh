#!/usr/bin/env bash
# helm.sh: builds helm (helm.sh/helm/v4) once per machine into a cache
# outside the clone, for deploy/deploy_test.go (`helm template` of
# deploy/helm/imdsd must equal deploy/kubernetes/*.yaml):
#
#   $IMDSD_K8S_CACHE/helm-$HELM_VERSION/helm
#   $IMDSD_K8S_CACHE/helm-$HELM_VERSION/BUILDINFO
#
# Idempotent: when the binary is there it prints its path and exits without
# running go. Cold: about 6 minutes on 2 busy cores (module download 40 s).
# It builds from the wrapper module in helm/ (go.mod and go.sum committed,
# -mod=readonly), with the same private module and build caches as
# build.sh, under nice/ionice.
#
# Usage: helm.sh          prints the helm binary's path on stdout
# Env:   IMDSD_K8S_CACHE  cache root (default /var/cache/imdsd/k8s)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() {
	printf 'helm.sh: error: %s\n' "$*" >&2
	exit 1
}

HELM_VERSION=$(awk '$1 == "helm.sh/helm/v4" {print $2; exit}' "$HERE/helm/go.mod")
[ -n "$HELM_VERSION" ] || die "no helm.sh/helm/v4 requirement in $HERE/helm/go.mod"
CACHE=${IMDSD_K8S_CACHE:-/var/cache/imdsd/k8s}
OUT=$CACHE/helm-$HELM_VERSION
BIN=$OUT/helm

if [ -x "$BIN" ] && grep -qx "helm $HELM_VERSION" "$OUT/BUILDINFO" 2>/dev/null; then
	echo "$BIN"
	exit 0
fi

command -v go >/dev/null || die "go not found on PATH (Go >= 1.26 is needed)"
mkdir -p "$OUT" || die "cannot create $OUT (set IMDSD_K8S_CACHE to a writable folder)"
exec 9>"$OUT/.build.lock"
command -v flock >/dev/null && flock 9

export GOMODCACHE=${IMDSD_K8S_GOMODCACHE:-$CACHE/go/mod}
export GOCACHE=${IMDSD_K8S_GOCACHE:-$CACHE/go/build}
export GOTOOLCHAIN=local GOFLAGS="-modcacherw -buildvcs=false" GOWORK=off CGO_ENABLED=0
LOW=(nice -n 19)
command -v ionice >/dev/null && LOW+=(ionice -c3)

printf '==> helm.sh: building helm %s into %s\n' "$HELM_VERSION" "$OUT" >&2
(
	cd "$HERE/helm"
	"${LOW[@]}" go build -mod=readonly -trimpath \
		-ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
		-o "$BIN.tmp" helm.sh/helm/v4/cmd/helm
)
mv "$BIN.tmp" "$BIN"
printf 'helm %s\n%s\n' "$HELM_VERSION" "$(go version)" >"$OUT/BUILDINFO"
echo "$BIN"
