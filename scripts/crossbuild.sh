#!/usr/bin/env bash
# crossbuild.sh: every package of the module, tests included, must compile
# and pass go vet on each OS imdsd ships for, not only on the one this
# machine runs: Linux (systemd, SysV), macOS (launchd, lo0 alias) and
# Windows (service manager, loopback pseudo-interface). For each OS it runs
#
#   GOOS=$os go build ./...   every package, as the OS's build tags pick it
#   GOOS=$os go vet ./...     every package and its tests, type-checked
#
# on amd64, then builds the binary for the other release architectures
# (darwin/arm64, linux/arm64). A file that uses a Unix-only API without a
# build tag (syscall.SysProcAttr.Setpgid, say) fails here, on a Linux
# machine, before a Windows user finds it. Prints one line per check and
# "N passed, M failed"; exits non-zero on any failure.
#
#   scripts/crossbuild.sh
#   OSES=windows ARCHES= scripts/crossbuild.sh   # one OS, no extra arch
set -euo pipefail
cd "$(dirname "$0")/.."

OSES=${OSES-linux darwin windows}
ARCHES=${ARCHES-darwin/arm64 linux/arm64}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
passed=0
failed=0

# check NAME CMD...: runs CMD, prints PASS or FAIL with its output.
check() {
	local name=$1 start=$SECONDS
	shift
	if "$@" >"$out/log" 2>&1; then
		passed=$((passed + 1))
		printf 'PASS %s (%d s)\n' "$name" $((SECONDS - start))
	else
		failed=$((failed + 1))
		printf 'FAIL %s\n' "$name"
		sed 's/^/    /' "$out/log"
	fi
}

for os in $OSES; do
	# CGO_ENABLED=0: no C cross-compiler here, and the releases are pure Go.
	check "GOOS=$os go build ./..." env CGO_ENABLED=0 GOOS="$os" GOARCH=amd64 go build ./...
	check "GOOS=$os go vet ./..." env CGO_ENABLED=0 GOOS="$os" GOARCH=amd64 go vet ./...
done
for t in $ARCHES; do
	os=${t%/*} arch=${t#*/}
	check "GOOS=$os GOARCH=$arch go build ./cmd/imdsd" \
		env CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" go build -o "$out/imdsd-$os-$arch" ./cmd/imdsd
done
echo "$passed passed, $failed failed"
((failed == 0))
