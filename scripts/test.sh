#!/usr/bin/env bash
# test.sh: runs every test of imdsd, on a fresh machine as on CI.
#
# It first installs what the tests need, idempotently (Debian packages,
# moto, the JavaScript SDK's pinned modules, Go modules and tools), then:
#   1. gofmt, go vet and staticcheck (pinned as a Go tool in go.mod), and
#      go build plus go vet of every package for Linux, macOS and Windows
#      (scripts/crossbuild.sh);
#   2. go test -race over every package (unit tests, real SDK clients
#      against the handler, moto-backed STS tests, the binary end to end,
#      and every committed fuzz seed corpus);
#   3. the end-to-end scripts with real clients, sockets, containers and
#      systemd (each prints "N passed, M failed").
# Any failure stops the run with a non-zero exit.
#
# The gate is deterministic: it runs no randomized fuzzing. Exploration is
# scripts/fuzz.sh, run on its own (README.md, "Fuzzing"); a finding is
# committed as a seed under testdata/fuzz/ with its fix, and from then on
# every go test here replays it.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

step() { printf '\n=== %s\n' "$*"; }

step "dependencies"
need_go
need_apt curl iproute2 nftables softhsm2
need_moto
need_aws_v1
need_aws_v2
need_boto3
need_node_modules
# AWS's Roles Anywhere helper, which proves internal/rastub's stand-in honest.
scripts/rolesanywhere-helper.sh >/dev/null
go mod download
# kube-apiserver and etcd for internal/k8stest (cached: instant when built).
scripts/k8s/build.sh
# helm, for the chart's test against the plain manifests (cached likewise).
scripts/k8s/helm.sh >/dev/null

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [[ -n $unformatted ]]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi
echo ok

step "go vet"
go vet ./...
echo ok

step "staticcheck (linux, darwin, windows)"
go tool staticcheck ./...
# The tool is built for this machine once; it checks the other OSes' files.
sc=$(GOOS= GOARCH= go tool -n staticcheck)
for os in darwin windows; do GOOS=$os "$sc" ./...; done
echo ok

step "go build and go vet for linux, darwin and windows (scripts/crossbuild.sh)"
scripts/crossbuild.sh

step "go test -race"
go test -race -count=1 -timeout 15m ./...

step "bench module: go vet and go test (scripts/bench.sh's report tool)"
# bench/ is its own module (the chart library stays out of imdsd's); the
# ceiling is vetted with and without the AWS SDK linked.
(cd bench && go vet ./... && go vet -tags sdk ./cmd/ceiling && go test -race -count=1 ./...)

step "end to end: real clients (scripts/e2e.sh)"
scripts/e2e.sh

# --- end-to-end suites of later issues (one line each) ---
step "end to end: containers with a real Docker engine and podman (scripts/e2e-containers.sh)"
scripts/e2e-containers.sh
step "load: 256 clients for 60 s, 1,000,000 token requests (scripts/load.sh)"
scripts/load.sh
step "Kubernetes node agent: a real kube-apiserver, pods as network namespaces, real SDKs (scripts/e2e-k8s.sh)"
scripts/e2e-k8s.sh
step "service: SysV init on this machine (scripts/e2e-sysv.sh)"
scripts/e2e-sysv.sh
step "service: the .deb and the .rpm under a real systemd in systemd-nspawn (scripts/e2e-systemd.sh)"
# The Debian root is cached outside the clone so a reused machine builds it once.
IMDSD_NSPAWN_ROOT=${IMDSD_NSPAWN_ROOT:-/var/cache/imdsd/nspawn-bookworm} scripts/e2e-systemd.sh

step "all tests passed"
