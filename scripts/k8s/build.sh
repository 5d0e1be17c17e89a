#!/usr/bin/env bash
# build.sh: builds a real kube-apiserver and etcd for the Kubernetes tests,
# once per machine, into a cache outside the clone keyed by version:
#
#   $IMDSD_K8S_CACHE/$K8S_VERSION/kube-apiserver
#   $IMDSD_K8S_CACHE/$K8S_VERSION/etcd
#   $IMDSD_K8S_CACHE/$K8S_VERSION/BUILDINFO   (what was built, with which Go)
#
# Idempotent: when both binaries are present (and BUILDINFO names the
# requested versions) it prints their paths and exits without running go.
# A cold build takes 10-15 minutes on 2 idle cores, about 35 on a busy
# machine: it runs under nice -n 19 and ionice -c3 so it only takes idle CPU
# and disk time.
#
# kube-apiserver is built through the wrapper module in apiserver/ (go.mod
# and go.sum are committed, so the build is reproducible): it requires
# k8s.io/kubernetes and replaces each of its staging modules
# (k8s.io/X => ./staging/src/k8s.io/X in its own go.mod) by the published
# k8s.io/X v0.N.P. `go install k8s.io/kubernetes/cmd/kube-apiserver@v1.N.P`
# cannot work because of those replaces. etcd is built the same way through
# etcd/ (go.etcd.io/etcd/server/v3 is package main).
#
# Usage: build.sh [--regen]
#   --regen   regenerate apiserver/go.mod, go.sum and etcd/go.mod, go.sum
#             from scratch (to bump a version; commit the result)
#
# Env:
#   IMDSD_K8S_CACHE     cache root (default /var/cache/imdsd/k8s)
#   K8S_VERSION         default: the version pinned in apiserver/go.mod (v1.37.2)
#   ETCD_VERSION        default: the version pinned in etcd/go.mod (v3.7.4);
#                       "debian" links Debian's etcd-server (3.4) instead, which
#                       start.sh then runs with --experimental-watch-progress-notify-interval=1s
#   IMDSD_K8S_GOMODCACHE, IMDSD_K8S_GOCACHE
#                       Go module and build caches (default: go/mod and
#                       go/build under the cache root, private to this build)
# A version other than the pinned one is built from a wrapper generated in
# the cache folder (not reproducible across machines: use --regen to pin it).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

say() { printf '==> build.sh: %s\n' "$*" >&2; }
die() {
	printf 'build.sh: error: %s\n' "$*" >&2
	exit 1
}

REGEN=0
case "${1:-}" in
--regen) REGEN=1 ;;
"") ;;
-h | --help)
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 0
	;;
*) die "unknown argument $1 (usage: build.sh [--regen])" ;;
esac

# pinned_version MODFILE MODULE: the version MODFILE requires of MODULE.
pinned_version() {
	[ -f "$1" ] || return 0
	awk -v m="$2" '$1 == m && $2 ~ /^v/ {print $2; exit} $1 == "require" && $2 == m {print $3; exit}' "$1"
}

PIN_K8S=$(pinned_version "$HERE/apiserver/go.mod" k8s.io/kubernetes)
PIN_ETCD=$(pinned_version "$HERE/etcd/go.mod" go.etcd.io/etcd/server/v3)
K8S_VERSION=${K8S_VERSION:-${PIN_K8S:-v1.37.2}}
ETCD_VERSION=${ETCD_VERSION:-${PIN_ETCD:-v3.7.4}}
STAGING_VERSION=v0.${K8S_VERSION#v1.} # v1.37.2 -> v0.37.2 (k8s.io/api, client-go, ...)
CACHE=${IMDSD_K8S_CACHE:-/var/cache/imdsd/k8s}
OUT=$CACHE/$K8S_VERSION
APISERVER=$OUT/kube-apiserver
ETCD=$OUT/etcd
INFO=$OUT/BUILDINFO

# Fast path: nothing to do (no go invocation at all).
if [ "$REGEN" = 0 ] && [ -x "$APISERVER" ] && [ -x "$ETCD" ] &&
	grep -qx "kube-apiserver $K8S_VERSION" "$INFO" 2>/dev/null &&
	grep -qx "etcd $ETCD_VERSION" "$INFO" 2>/dev/null; then
	say "cached: $APISERVER"
	say "cached: $ETCD ($ETCD_VERSION)"
	exit 0
fi

command -v go >/dev/null || die "go not found on PATH (Go >= 1.26 is needed)"
mkdir -p "$OUT" || die "cannot create $OUT (set IMDSD_K8S_CACHE to a writable folder)"

# One build at a time per cache.
exec 9>"$CACHE/.build.lock"
if command -v flock >/dev/null && ! flock -n 9; then
	say "another build.sh is running on $CACHE; waiting for it"
	flock 9
fi

export GOMODCACHE=${IMDSD_K8S_GOMODCACHE:-$CACHE/go/mod}
export GOCACHE=${IMDSD_K8S_GOCACHE:-$CACHE/go/build}
# etcd's go.mod names a newer toolchain than it needs: never download one.
# -modcacherw: the module cache can be deleted with rm -rf.
export GOTOOLCHAIN=local GOFLAGS="-modcacherw -buildvcs=false" GOWORK=off CGO_ENABLED=0

# Builds run with idle priority only (the machine is shared).
LOW=(nice -n 19)
command -v ionice >/dev/null && LOW+=(ionice -c3)

say "kube-apiserver $K8S_VERSION (staging modules $STAGING_VERSION), etcd $ETCD_VERSION"
say "output $OUT; module cache $GOMODCACHE; build cache $GOCACHE"
say "$(go version), priority: ${LOW[*]}"

START=$(date +%s)
elapsed() { echo "$(($(date +%s) - $1)) s"; }

# gen_apiserver DIR: writes a wrapper module for kube-apiserver $K8S_VERSION in DIR.
gen_apiserver() {
	local dir=$1 kmod m n=0
	say "generating the kube-apiserver wrapper module in $dir"
	mkdir -p "$dir"
	rm -f "$dir/go.mod" "$dir/go.sum"
	(
		cd "$dir"
		go mod init imdsd-k8s-test/apiserver >/dev/null 2>&1
		# the lowest Go that can build it (tidy raises it if a dependency needs more)
		go mod edit -go=1.26.0
		go mod edit -require="k8s.io/kubernetes@$K8S_VERSION"
		"${LOW[@]}" go mod download "k8s.io/kubernetes@$K8S_VERSION"
		kmod=$GOMODCACHE/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod
		[ -f "$kmod" ] || die "no $kmod after go mod download"
		# shellcheck disable=SC2013 # module paths have no spaces
		for m in $(grep -oE 'k8s.io/[A-Za-z0-9._-]+ => \./staging/' "$kmod" | awk '{print $1}' | sort -u); do
			go mod edit -replace="$m=$m@$STAGING_VERSION"
			n=$((n + 1))
		done
		say "replaced $n staging modules by their $STAGING_VERSION releases"
		go mod edit -tool=k8s.io/kubernetes/cmd/kube-apiserver
		"${LOW[@]}" go mod tidy
	)
}

# gen_etcd DIR: writes a wrapper module for etcd $ETCD_VERSION in DIR.
gen_etcd() {
	local dir=$1
	say "generating the etcd wrapper module in $dir"
	mkdir -p "$dir"
	rm -f "$dir/go.mod" "$dir/go.sum"
	(
		cd "$dir"
		go mod init imdsd-k8s-test/etcd >/dev/null 2>&1
		# the lowest Go that can build it (tidy raises it if a dependency needs more)
		go mod edit -go=1.26.0
		go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
		go mod edit -tool=go.etcd.io/etcd/server/v3
		"${LOW[@]}" go mod tidy
	)
}

# Wrapper modules: the committed ones for the pinned versions, otherwise
# generated ones in the cache.
if [ "$REGEN" = 1 ]; then
	gen_apiserver "$HERE/apiserver"
	[ "$ETCD_VERSION" = debian ] || gen_etcd "$HERE/etcd"
fi
API_MOD=$HERE/apiserver
if [ "$K8S_VERSION" != "$(pinned_version "$API_MOD/go.mod" k8s.io/kubernetes)" ]; then
	API_MOD=$OUT/src/apiserver
	grep -qs "k8s.io/kubernetes $K8S_VERSION" "$API_MOD/go.mod" || gen_apiserver "$API_MOD"
fi
ETCD_MOD=$HERE/etcd
if [ "$ETCD_VERSION" != debian ] && [ "$ETCD_VERSION" != "$(pinned_version "$ETCD_MOD/go.mod" go.etcd.io/etcd/server/v3)" ]; then
	ETCD_MOD=$OUT/src/etcd-$ETCD_VERSION
	grep -qs "go.etcd.io/etcd/server/v3 $ETCD_VERSION" "$ETCD_MOD/go.mod" || gen_etcd "$ETCD_MOD"
fi

# kube-apiserver, version-stamped so /version and discovery report it.
if [ -x "$APISERVER" ] && grep -qx "kube-apiserver $K8S_VERSION" "$INFO" 2>/dev/null && [ "$REGEN" = 0 ]; then
	say "kube-apiserver: cached"
else
	T=$(date +%s)
	MINOR=$(echo "$K8S_VERSION" | cut -d. -f2)
	LDFLAGS="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION"
	LDFLAGS+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$MINOR"
	LDFLAGS+=" -X k8s.io/component-base/version.gitTreeState=clean"
	say "downloading kube-apiserver's modules (from $API_MOD)"
	(cd "$API_MOD" && "${LOW[@]}" go mod download)
	say "modules ready after $(elapsed "$T")"
	say "building kube-apiserver (the longest step: about 8 minutes of CPU, the link needs 2.4 GB)"
	(cd "$API_MOD" && "${LOW[@]}" go build -mod=readonly -trimpath -ldflags "$LDFLAGS" \
		-o "$APISERVER.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
	mv -f "$APISERVER.tmp" "$APISERVER"
	say "kube-apiserver built in $(elapsed "$T")"
fi

# etcd.
if [ -x "$ETCD" ] && grep -qx "etcd $ETCD_VERSION" "$INFO" 2>/dev/null && [ "$REGEN" = 0 ]; then
	say "etcd: cached"
elif [ "$ETCD_VERSION" = debian ]; then
	if ! command -v etcd >/dev/null; then
		say "installing Debian's etcd-server (apt-get)"
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -q etcd-server >/dev/null 2>&1 ||
			{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q etcd-server >/dev/null; } ||
			die "apt-get install etcd-server failed"
	fi
	# Debian's package starts a system etcd on 2379; ours runs on its own ports.
	ln -sfn "$(command -v etcd)" "$ETCD"
	say "etcd: linked $(command -v etcd)"
else
	T=$(date +%s)
	say "building etcd $ETCD_VERSION (from $ETCD_MOD)"
	(cd "$ETCD_MOD" && "${LOW[@]}" go build -mod=readonly -trimpath -ldflags "-s -w" \
		-o "$ETCD.tmp" go.etcd.io/etcd/server/v3)
	rm -f "$ETCD"
	mv -f "$ETCD.tmp" "$ETCD"
	say "etcd built in $(elapsed "$T")"
fi

{
	echo "kube-apiserver $K8S_VERSION"
	echo "etcd $ETCD_VERSION"
	echo "go $(go env GOVERSION)"
	echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$INFO.tmp"
mv -f "$INFO.tmp" "$INFO"

"$APISERVER" --version >&2
"$ETCD" --version 2>&1 | head -1 >&2
ls -l "$APISERVER" "$ETCD" >&2
say "done in $(elapsed "$START")"
