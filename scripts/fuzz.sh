#!/usr/bin/env bash
# scripts/fuzz.sh - builds and runs the libFuzzer targets of fuzz/ one after
# another (nice 10, one process each), for a time or a number of runs, and
# prints one line per target with its execution count. Optionally merges
# what a run found into the committed corpus. Not a CI driver by itself:
# tests/cli/fuzz.sh runs it briefly, `make fuzz` for longer.
#
# usage: scripts/fuzz.sh [-t SECONDS | -n RUNS] [-m] [-k] [TARGET...]
#        scripts/fuzz.sh deps
#   -t SECONDS  run each target this long (default 60)
#   -n RUNS     run each target for exactly RUNS executions instead
#   -m          merge new coverage into fuzz/corpus/TARGET (keeps only inputs
#               that add coverage)
#   -k          keep going after a target fails (default: stop)
#   TARGET      scenario, stripe_sig, webhook, quote_email, resp_wire,
#               pg_wire (default: every fuzz/fuzz_*.c)
#   deps        install clang and libFuzzer (Debian, as root) when missing
# Exit status: 0 no finding; 1 a target crashed, leaked, hung or broke a
# property (its input is in build/fuzz/artifacts/); 2 bad usage; 77 clang
# or libFuzzer missing and not installable.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

FUZZ_BUILD=build/fuzz
RSS_LIMIT_MB=2048      # a run that grows past this is a finding
MALLOC_LIMIT_MB=256    # so is any single allocation past this
TIMEOUT_S=10           # and any input that takes longer (a hang)

usage() {
	sed -n '8,20p' "$0" | sed 's/^# \{0,1\}//'
}

have_libfuzzer() {
	command -v "${FUZZ_CC:-clang}" >/dev/null 2>&1 || return 1
	local probe
	probe=$(mktemp -d) || return 1
	printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
		>"$probe/p.c"
	"${FUZZ_CC:-clang}" -fsanitize=fuzzer,address "$probe/p.c" -o "$probe/p" >/dev/null 2>&1
	local rc=$?
	rm -rf "$probe"
	return $rc
}

deps() {
	have_libfuzzer && return 0
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "fuzz: installing clang and libclang-rt-14-dev" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang libclang-rt-14-dev >/dev/null ||
			{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
				apt-get install -y -q clang libclang-rt-14-dev >/dev/null; }
		have_libfuzzer && return 0
	fi
	echo "fuzz: clang with libFuzzer is not available (apt-get install clang libclang-rt-14-dev)" >&2
	return 77
}

# The longest input worth trying per target; larger ones only slow it down.
max_len() {
	case $1 in
	scenario) echo 16384 ;;
	webhook) echo 8192 ;;
	quote_email) echo 5000 ;;
	*) echo 4096 ;;
	esac
}

seconds=60
runs=
merge=0
keep_going=0
if [ "${1:-}" = deps ]; then
	deps
	exit $?
fi
while getopts 't:n:mkh' opt; do
	case $opt in
	t) seconds=$OPTARG ;;
	n) runs=$OPTARG ;;
	m) merge=1 ;;
	k) keep_going=1 ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
case "$seconds$runs" in
*[!0-9]*) echo "fuzz: -t and -n take a whole number" >&2; exit 2 ;;
esac

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for f in fuzz/fuzz_*.c; do
		t=${f#fuzz/fuzz_}
		targets+=("${t%.c}")
	done
fi
for t in "${targets[@]}"; do
	[ -f "fuzz/fuzz_$t.c" ] || { echo "fuzz: no target '$t' (fuzz/fuzz_$t.c)" >&2; exit 2; }
done

deps || exit $?
make --no-print-directory -s fuzz-build || exit 1
mkdir -p "$FUZZ_BUILD/artifacts" || exit 1
# Logs and new finds of this invocation only, so runs side by side (a long
# one and the CI one) never share a directory.
run_dir=$(mktemp -d --tmpdir="$FUZZ_BUILD") || exit 1   # build/fuzz/tmp.<random>

failed=0
for t in "${targets[@]}"; do
	bin=$FUZZ_BUILD/fuzz_$t
	corpus=fuzz/corpus/$t
	found=$run_dir/found-$t   # what this run adds; the committed corpus is read only
	log=$run_dir/$t.log
	mkdir -p "$corpus" "$found"
	limit=(-max_total_time="$seconds")
	[ -n "$runs" ] && limit=(-runs="$runs")
	dict=()
	[ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")

	start=$(date +%s)
	nice -n 10 "$bin" "${limit[@]}" "${dict[@]}" -max_len="$(max_len "$t")" \
		-timeout=$TIMEOUT_S -rss_limit_mb=$RSS_LIMIT_MB -malloc_limit_mb=$MALLOC_LIMIT_MB \
		-entropic_scale_per_exec_time=1 -print_final_stats=1 \
		-artifact_prefix="$FUZZ_BUILD/artifacts/$t-" "$found" "$corpus" >"$log" 2>&1
	rc=$?
	took=$(($(date +%s) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	if [ $rc -ne 0 ]; then
		echo "fuzz_$t: FAILED after ${execs:-?} runs in ${took}s (exit $rc); log $log"
		grep -E 'ERROR|assertion failed|SUMMARY|Test unit written' "$log" | head -8 | sed 's/^/    /'
		failed=1
		[ $keep_going -eq 1 ] || break
		continue
	fi
	new=$(find "$found" -type f | wc -l)
	echo "fuzz_$t: ${execs:-?} runs in ${took}s, no finding ($(find "$corpus" -type f | wc -l) in corpus, $new new)"
	if [ $merge -eq 1 ] && [ "$new" -gt 0 ]; then
		before=$(find "$corpus" -type f | wc -l)
		nice -n 10 "$bin" -merge=1 -max_len="$(max_len "$t")" -timeout=$TIMEOUT_S \
			-rss_limit_mb=$RSS_LIMIT_MB -malloc_limit_mb=$MALLOC_LIMIT_MB \
			"$corpus" "$found" >>"$log" 2>&1 || { echo "fuzz_$t: merge failed; log $log"; failed=1; }
		echo "fuzz_$t: merged $(($(find "$corpus" -type f | wc -l) - before)) inputs into $corpus"
	fi
	rm -rf "$found"
done
exit $failed
