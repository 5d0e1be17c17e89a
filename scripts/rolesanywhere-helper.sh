#!/usr/bin/env bash
# rolesanywhere-helper.sh: builds AWS's IAM Roles Anywhere credential
# helper (rolesanywhere-credential-helper v1.4.0, cgo included, ~20 s) into
# a cache outside the clone, once, and prints its path. The tests of
# internal/rastub run it against the CreateSession stand-in to prove the
# stand-in honest; scripts/test.sh's dependency step runs this script.
#
#   IMDSD_TOOLS  the cache directory (default /var/cache/imdsd/tools)
set -euo pipefail
version=v1.4.0
tools=${IMDSD_TOOLS:-/var/cache/imdsd/tools}
bin=$tools/rolesanywhere-credential-helper
stamp=$bin.version
if [[ -x $bin && -f $stamp && $(cat "$stamp") == "$version" ]]; then
	echo "$bin"
	exit 0
fi
mkdir -p "$tools"
# Outside any module: go install pkg@version builds it with its own go.mod.
(cd / && GOBIN=$tools GOFLAGS=-mod=mod go install "github.com/aws/rolesanywhere-credential-helper@$version") >&2
[[ -x $bin ]] || { echo "rolesanywhere-helper.sh: go install did not produce $bin" >&2; exit 1; }
echo "$version" >"$stamp"
echo "$bin"
