#!/usr/bin/env bash
# fuzz.sh: runs every go test -fuzz target of imdsd for FUZZTIME each
# (default 30s) and prints how many inputs each tried. Any crash or broken
# invariant fails the run; the failing input is written by go test under
# the package's testdata/fuzz/ (commit it as a regression seed).
#
#   scripts/fuzz.sh                 # every target, 30 s each
#   FUZZTIME=5m scripts/fuzz.sh FuzzServer_RawRequest
#   FUZZMINIMIZETIME=5s             # minimizing a new input (default 5s)
#   FUZZ_SAVE=1 scripts/fuzz.sh     # also copy the interesting inputs found
#                                   # into testdata/fuzz/ (seed corpora)
#
# It needs only Go; it touches no network.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
need_go
lib_init

FUZZTIME=${FUZZTIME:-30s}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-5s}

# corpus_files PKG NAME: the inputs under PKG/testdata/fuzz/NAME, one a line.
corpus_files() {
	[[ -d $1/testdata/fuzz/$2 ]] || return 0
	find "$1/testdata/fuzz/$2" -type f | sort
}

# deadline_race LOG: the run's only failure is the coordinator's bare
# "context deadline exceeded" (golang/go's fuzzing shutdown race), with no
# failing input written.
deadline_race() {
	grep -qx '    context deadline exceeded' "$1" &&
		! grep -q 'Failing input written\|panic:\|--- FAIL: .*/' "$1"
}
# package:target, every fuzz target of the repository.
TARGETS=(
	imds:FuzzServer_RawRequest
	imds:FuzzTokenSigner_Check
	imds:FuzzParseTokenTTL
	imds:FuzzHostAllowed
	imds:FuzzContainerHandler_Authorization
	cmd/imdsd:FuzzDecodeConfig
)

# Every target in the tree must be listed above.
listed=" ${TARGETS[*]} "
while IFS=: read -r file name; do
	pkg=$(dirname "$file")
	[[ $listed == *" $pkg:$name "* ]] || die "fuzz target $pkg:$name is not in scripts/fuzz.sh"
done < <(grep -rHoE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+' imds cmd roles peercred 2>/dev/null | sed 's/:func /:/')

total=0
failed=0
summary=()
for t in "${TARGETS[@]}"; do
	pkg=${t%%:*} name=${t#*:}
	[[ $# -eq 0 || " $* " == *" $name "* ]] || continue
	say "fuzzing $pkg $name for $FUZZTIME"
	log=$WORK/$name.log
	before=$(corpus_files "$pkg" "$name")
	# -fuzzminimizetime: a new interesting input is minimized for up to 60 s
	# by default, with no progress printed, which can take the whole budget.
	if go test -vet=off -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" \
		-fuzzminimizetime "$FUZZMINIMIZETIME" "./$pkg/" >"$log" 2>&1; then
		status=ok
	elif deadline_race "$log" && [[ $(corpus_files "$pkg" "$name") == "$before" ]] &&
		go test -vet=off -run "^$name\$" "./$pkg/" >>"$log" 2>&1; then
		# Go's fuzzing coordinator can report its own -fuzztime deadline as
		# a failure ("context deadline exceeded", no input written) when it
		# fires while a worker is busy. Nothing was found: the seed corpus
		# replays clean. Any written input or other error still fails.
		status=ok-deadline
	else
		status=FAILED
		failed=$((failed + 1))
		tail -40 "$log" >&2
	fi
	execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
	total=$((total + execs))
	summary+=("$(printf '%-40s %-10s %12s inputs' "$pkg $name" "$status" "$execs")")
	if [[ ${FUZZ_SAVE:-0} == 1 ]]; then
		cache=$(go env GOCACHE)/fuzz/github.com/imdsd/imdsd/$pkg/$name
		if [[ -d $cache ]]; then
			mkdir -p "$pkg/testdata/fuzz/$name"
			# At most 40 inputs per target, the smallest: enough to steer
			# every later run, small enough to review.
			find "$cache" -type f -printf '%s %p\n' | sort -n | head -40 | cut -d' ' -f2- |
				while read -r f; do cp -n "$f" "$pkg/testdata/fuzz/$name/"; done
		fi
	fi
done

printf '\n'
printf '%s\n' "${summary[@]}"
printf '%-40s %-10s %12s inputs\n' "total" "" "$total"
((failed == 0)) || die "$failed fuzz target(s) failed"
echo "fuzz: all targets passed"
