#!/usr/bin/env bash
# crossbuild.sh: every package must compile for the service platforms that
# this machine cannot run: macOS (launchd, lo0 alias) on amd64 and arm64,
# Windows (service manager, loopback pseudo-interface) on amd64, and Linux
# arm64 (the second package architecture). Prints one line per target and
# "N passed, M failed"; exits non-zero on a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=${TARGETS:-darwin/amd64 darwin/arm64 windows/amd64 linux/arm64}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
passed=0
failed=0
for t in $TARGETS; do
	os=${t%/*} arch=${t#*/}
	start=$SECONDS
	# The binary, and with it every package it links (service, linklocal,
	# the OS-specific files of both). Test-support packages such as
	# internal/motoserver are Linux-only and not part of it.
	if CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -o "$out/imdsd-$os-$arch" ./cmd/imdsd >"$out/log" 2>&1; then
		passed=$((passed + 1))
		printf 'PASS %s (%d s)\n' "$t" $((SECONDS - start))
	else
		failed=$((failed + 1))
		printf 'FAIL %s\n' "$t"
		sed 's/^/    /' "$out/log"
	fi
done
echo "$passed passed, $failed failed"
((failed == 0))
