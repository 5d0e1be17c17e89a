#!/usr/bin/env bash
# package.sh builds the imdsd .deb and .rpm packages for linux amd64 and
# arm64 into dist/, with nfpm pinned as a Go tool in go.mod (no global
# install). VERSION overrides the package version (default: the latest
# vX.Y.Z tag, else 0.0.0+git<commit>).
#   scripts/package.sh            # all four packages
#   ARCHES=amd64 FORMATS=deb scripts/package.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ARCHES=${ARCHES:-amd64 arm64}
FORMATS=${FORMATS:-deb rpm}
if [[ -z ${VERSION:-} ]]; then
	tag=$(git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null || true)
	if [[ -n $tag ]]; then
		VERSION=${tag#v}
	else
		VERSION=0.0.0+git$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	fi
fi
export VERSION

mkdir -p dist
for arch in $ARCHES; do
	bin=dist/build/linux-$arch/imdsd
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o "$bin" ./cmd/imdsd
	for format in $FORMATS; do
		IMDSD_ARCH=$arch IMDSD_VERSION=$VERSION IMDSD_BINARY=$bin go tool nfpm package -f packaging/nfpm.yaml -p "$format" -t dist/ >/dev/null
	done
done
rm -rf dist/build
for f in dist/*; do
	case $f in *"_${VERSION}_"* | *"-${VERSION}-"*) echo "$f" ;; esac
done
