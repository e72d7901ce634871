#!/usr/bin/env bash
# scripts/mutants.sh - the mutation score of the standard scenario suite:
# every patch in tests/mutants/ (hand-written) and every patch that
# scripts/mutate_ops.py generates (operators) is applied to a scratch copy of
# the tree, built and run through `faultline matrix`; a mutant is killed
# when the exit status or the set of violated (scenario, variant, invariant)
# cells differs from the unmutated tree's. Writes build/mutants.json and
# build/mutants.md. The scratch trees are built with LeakSanitizer, so a
# mutant that leaks (a request never freed) is killed at the run's exit.
# Depends only on core/, scenarios/, make and the Makefile's build/faultline
# target; see docs/mutants.md.
#
#   scripts/mutants.sh [-j JOBS] [-t TIMEOUT_S] [-m MAX_OPS] [-k PATTERN] [-L]
#     -j JOBS       workers, each with its own scratch tree (default 2)
#     -t TIMEOUT_S  bound on one suite run; over it the mutant is TIMEOUT (60)
#     -m MAX_OPS    cap on operator mutants, 0 for none (default 150)
#     -k PATTERN    only mutants whose id matches this extended regex
#     -L            plain builds, no LeakSanitizer (leaks then survive)
set -euo pipefail

jobs=2
timeout_s=60
max_ops=150
pattern=
leak=1
usage() {
	sed -n '13,18p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
while getopts 'j:t:m:k:Lh' opt; do
	case $opt in
	j) jobs=$OPTARG ;;
	t) timeout_s=$OPTARG ;;
	m) max_ops=$OPTARG ;;
	k) pattern=$OPTARG ;;
	L) leak=0 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage
for n in "$jobs" "$timeout_s" "$max_ops"; do
	[[ $n =~ ^[0-9]+$ ]] || usage
done
[ "$jobs" -ge 1 ] && [ "$timeout_s" -ge 1 ] || usage

cd "$(dirname "$0")/.."
root=$PWD
here=$root/scripts
out=$root/build/mutants
# The inner builds are make's own, not part of a `make mutants` job server.
unset MAKEFLAGS MFLAGS MAKELEVEL
started=$(date +%s)
# LeakSanitizer alone costs little (the suite runs in about twice the plain
# time); a leak ends the run with LEAK_RC.
LEAK_RC=23
mk=()
if [ "$leak" -eq 1 ]; then
	mk=(CFLAGS=-fsanitize=leak LDFLAGS=-fsanitize=leak)
	export LSAN_OPTIONS=exitcode=$LEAK_RC
fi

rm -rf "$out"
mkdir -p "$out/ops" "$out/results" "$out/claims" "$out/logs"

# ---- the mutants: one patch each -----------------------------------------
if [ "$max_ops" -gt 0 ]; then
	"$here/mutate_ops.py" --max "$max_ops" --out "$out/ops" core
fi
: >"$out/list"
for p in tests/mutants/*.patch "$out"/ops/*.patch; do
	[ -e "$p" ] || continue
	id=$(basename "$p" .patch)
	if [ -z "$pattern" ] || [[ $id =~ $pattern ]]; then
		realpath "$p" >>"$out/list"
	fi
done
total=$(wc -l <"$out/list")
echo "mutants: $total to run on $jobs worker(s)"

# ---- the scratch trees and the baseline ----------------------------------
# w0 is copied and built once; the others are copies of it, objects
# included, so each worker only rebuilds what a mutant touches.
copy_tree() { # dest
	mkdir -p "$1"
	tar -C "$root" --exclude=./build --exclude=./.git -cf - . | tar -C "$1" -xf -
}
copy_tree "$out/w0"
cp -a "$out/w0/core" "$out/pristine-core"
(cd "$out/w0" && make -j"$jobs" ${mk[@]+"${mk[@]}"} build/faultline >"$out/logs/baseline-build.log" 2>&1) || {
	echo "mutants: the unmutated tree does not build; see $out/logs/baseline-build.log" >&2
	exit 1
}
set +e
(cd "$out/w0" && timeout "$timeout_s" build/faultline matrix --quiet --report "$out/baseline" scenarios/ \
	>"$out/logs/baseline-run.log" 2>&1)
base_rc=$?
set -e
if [ "$leak" -eq 1 ] && [ "$base_rc" -eq "$LEAK_RC" ] && grep -q LeakSanitizer "$out/logs/baseline-run.log"; then
	echo "mutants: the unmutated suite leaks memory; see $out/logs/baseline-run.log" >&2
	exit 1
fi
if [ "$base_rc" -ge 124 ] || [ ! -f "$out/baseline/report.json" ]; then
	echo "mutants: the unmutated suite run failed (exit $base_rc); see $out/logs/baseline-run.log" >&2
	exit 1
fi
"$here/mutants_report.py" cells "$out/baseline/report.json" >"$out/baseline/cells"
echo "mutants: baseline exit $base_rc, $(wc -l <"$out/baseline/cells") violated cells"
for ((k = 1; k < jobs; k++)); do
	cp -a "$out/w0" "$out/w$k"
done

# ---- one mutant ------------------------------------------------------------
# Puts core/ back as it was: stray files go, changed files are copied back
# and touched so that make rebuilds their objects from the pristine text.
restore_core() { # worker-dir
	local f
	for f in "$1"/core/*; do
		[ -e "$out/pristine-core/${f##*/}" ] || rm -f "$f"
	done
	for f in "$out"/pristine-core/*; do
		if ! cmp -s "$f" "$1/core/${f##*/}"; then
			cp "$f" "$1/core/${f##*/}"
			touch "$1/core/${f##*/}"
		fi
	done
}

run_mutant() { # worker-dir patch
	local w=$1 p=$2 id status killed_by rc
	id=$(basename "$p" .patch)
	local log=$out/logs/$id.log run=$out/runs/$id
	status=survived
	killed_by=
	if ! (cd "$w" && patch -p1 -s --no-backup-if-mismatch -r - <"$p") >"$log" 2>&1; then
		status=failed-to-build
		killed_by="patch does not apply"
	elif ! (cd "$w" && make -j1 ${mk[@]+"${mk[@]}"} build/faultline) >>"$log" 2>&1; then
		status=failed-to-build
		killed_by="build failed"
	else
		set +e
		# The braces keep bash's "Segmentation fault" notice out of the output.
		{ (cd "$w" && timeout "$timeout_s" build/faultline matrix --quiet --report "$run" scenarios/) \
			>>"$log" 2>&1; } 2>/dev/null
		rc=$?
		set -e
		local cells=$run/cells diff
		# A run killed by the timeout may not have made its directory.
		mkdir -p "$run"
		if [ -f "$run/report.json" ]; then
			"$here/mutants_report.py" cells "$run/report.json" >"$cells"
		else
			: >"$cells"
		fi
		# Cells newly violated first: they name the contract the mutant broke.
		diff=$(diff "$out/baseline/cells" "$cells" |
			sed -n 's/^> \(.*\)/1 \1 newly violated/p; s/^< \(.*\)/2 \1 no longer violated/p' |
			sort | head -1 | cut -d' ' -f2- || true)
		if [ "$rc" -eq 124 ]; then
			status=timeout
			killed_by="no answer in ${timeout_s} s"
		elif [ "$leak" -eq 1 ] && [ "$rc" -eq "$LEAK_RC" ] && grep -q 'LeakSanitizer' "$log"; then
			status=killed
			killed_by="leaked memory (LeakSanitizer: $(grep -m1 -o '[0-9]* byte(s) leaked in [0-9]* allocation(s)' "$log" || echo 'see the log'))"
		elif [ "$rc" -gt 128 ]; then
			status=killed
			killed_by="crashed: signal $((rc - 128)) (exit $rc, baseline $base_rc)"
		elif [ -n "$diff" ]; then
			status=killed
			killed_by=$diff
			[ "$rc" -eq "$base_rc" ] || killed_by="$killed_by (exit $rc, baseline $base_rc)"
		elif [ "$rc" -ne "$base_rc" ]; then
			status=killed
			killed_by="exit status $rc (baseline $base_rc)"
		fi
	fi
	restore_core "$w"
	"$here/mutants_report.py" describe "$p" |
		jq --arg status "$status" --arg by "$killed_by" \
			'. + {status: $status, killed_by: (if $by == "" then null else $by end)}' \
			>"$out/results/$id.json"
	printf '%-44s %s%s\n' "$id" "$status" "${killed_by:+  ($killed_by)}"
}

# Workers take mutants from the list in order; mkdir claims one atomically.
worker() { # index
	local w=$out/w$1 p id
	while IFS= read -r p; do
		id=$(basename "$p" .patch)
		mkdir "$out/claims/$id" 2>/dev/null || continue
		run_mutant "$w" "$p"
	done <"$out/list"
}

mkdir -p "$out/runs"
pids=()
for ((k = 0; k < jobs; k++)); do
	worker "$k" &
	pids+=($!)
done
for pid in "${pids[@]}"; do
	wait "$pid"
done

"$here/mutants_report.py" summary "$out/results" "$root/build/mutants.json" "$root/build/mutants.md"
elapsed=$(($(date +%s) - started))
printf '\nRun: %d mutants, %d worker(s), %d s.\n' "$total" "$jobs" "$elapsed" >>"$root/build/mutants.md"
sed -n '/^## Score/,/^## Mutants/p' "$root/build/mutants.md" | grep '^- '
echo "mutants: $total in ${elapsed} s; build/mutants.json, build/mutants.md"
