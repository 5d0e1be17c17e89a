#!/usr/bin/env bash
# fuzz.sh: time-boxed exploration with every go test -fuzz target of imdsd,
# FUZZTIME each (default 30s); prints how many inputs each tried. It is not
# part of scripts/test.sh: the gate stays deterministic, replaying the
# committed seed corpora (testdata/fuzz/) on every go test.
#
#   scripts/fuzz.sh                 # every target, 30 s each
#   FUZZTIME=5m scripts/fuzz.sh FuzzServer_RawRequest
#   FUZZMINIMIZETIME=5s             # minimizing a new input (default 5s)
#   FUZZ_OUT=DIR                    # where findings are kept (default: a
#                                   # new folder under ${TMPDIR:-/tmp})
#   FUZZ_SAVE=1 scripts/fuzz.sh     # also copy the interesting inputs found
#                                   # into testdata/fuzz/ (seed corpora)
#
# Fuzzing runs in a scratch copy of the working tree, never in the tree
# itself: go test writes a failing input under the package's
# testdata/fuzz/, where it would fail every later go test of the clone. A
# crash or broken invariant fails the run and is reported with the input's
# path in FUZZ_OUT, the command that replays it and the command that
# commits it as a seed, which is what to do once it is fixed. The run fails
# on any finding; the tree is left as it was.
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

# corpus_files DIR PKG NAME: the inputs under DIR/PKG/testdata/fuzz/NAME,
# by name, one a line.
corpus_files() {
	[[ -d $1/$2/testdata/fuzz/$3 ]] || return 0
	(cd "$1/$2/testdata/fuzz/$3" && find . -type f | sed 's|^\./||' | sort)
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
	imds:FuzzClassify
	cmd/imdsd:FuzzDecodeConfig
)

# Every target in the tree must be listed above.
listed=" ${TARGETS[*]} "
while IFS=: read -r file name; do
	pkg=$(dirname "$file")
	[[ $listed == *" $pkg:$name "* ]] || die "fuzz target $pkg:$name is not in scripts/fuzz.sh"
done < <(grep -rHoE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+' imds cmd roles peercred 2>/dev/null | sed 's/:func /:/')

# The scratch copy: every file git knows or would add (tracked, and
# untracked but not ignored), so uncommitted work is fuzzed as it is.
SCRATCH=$WORK/tree
mkdir -p "$SCRATCH"
git ls-files -z --cached --others --exclude-standard |
	while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done |
	tar -c --null -T - | tar -x -C "$SCRATCH"
made_out=0
if [[ -z ${FUZZ_OUT:-} ]]; then
	FUZZ_OUT=$(mktemp -d "${TMPDIR:-/tmp}/imdsd-fuzz-findings.XXXXXX")
	made_out=1
fi
FUZZ_OUT=$(mkdir -p "$FUZZ_OUT" && cd "$FUZZ_OUT" && pwd)

total=0
failed=0
findings=0
summary=()
for t in "${TARGETS[@]}"; do
	pkg=${t%%:*} name=${t#*:}
	[[ $# -eq 0 || " $* " == *" $name "* ]] || continue
	say "fuzzing $pkg $name for $FUZZTIME"
	log=$WORK/$name.log
	before=$(corpus_files "$SCRATCH" "$pkg" "$name")
	# -fuzzminimizetime: a new interesting input is minimized for up to 60 s
	# by default, with no progress printed, which can take the whole budget.
	if (cd "$SCRATCH" && go test -vet=off -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" \
		-fuzzminimizetime "$FUZZMINIMIZETIME" "./$pkg/") >"$log" 2>&1; then
		status=ok
	elif deadline_race "$log" && [[ $(corpus_files "$SCRATCH" "$pkg" "$name") == "$before" ]] &&
		(cd "$SCRATCH" && go test -vet=off -run "^$name\$" "./$pkg/") >>"$log" 2>&1; then
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
	# A failing input go test wrote into the scratch copy: keep it in
	# FUZZ_OUT, and say how to replay and commit it.
	while IFS= read -r f; do
		[[ -n $f ]] || continue
		findings=$((findings + 1))
		seed=$pkg/testdata/fuzz/$name/$f
		mkdir -p "$FUZZ_OUT/$pkg/testdata/fuzz/$name"
		cp "$SCRATCH/$seed" "$FUZZ_OUT/$seed"
		cp "$log" "$FUZZ_OUT/$name.log"
		cat >&2 <<-EOF

			FINDING $pkg $name: $FUZZ_OUT/$seed
			  log:     $FUZZ_OUT/$name.log
			  replay:  mkdir -p $pkg/testdata/fuzz/$name && cp $FUZZ_OUT/$seed $pkg/testdata/fuzz/$name/ &&
			           go test -run '^$name/$f\$' ./$pkg/
			  Fix the bug, then commit the input as a regression seed with the fix:
			           git add $seed
		EOF
	done < <(comm -13 <(printf '%s\n' "$before") <(corpus_files "$SCRATCH" "$pkg" "$name"))
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
			say "FUZZ_SAVE: seeds copied into $pkg/testdata/fuzz/$name (review, then git add)"
		fi
	fi
done

printf '\n'
printf '%s\n' "${summary[@]}"
printf '%-40s %-10s %12s inputs\n' "total" "" "$total"
if ((findings > 0)); then
	say "$findings failing input(s) kept in $FUZZ_OUT; the tree is unchanged"
elif ((made_out)); then
	rmdir "$FUZZ_OUT"
fi
((failed == 0)) || die "$failed fuzz target(s) failed"
echo "fuzz: all targets passed"
