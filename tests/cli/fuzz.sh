# tests/cli/fuzz.sh - a short, bounded libFuzzer run of every fuzz target
# (FUZZ_CI_SECONDS each, default 3) through scripts/fuzz.sh, and the
# script's usage errors. Sourced by tests/cli_test.sh, which provides $bin,
# expect_status, expect_output, pass and fail. The targets carry ASan and
# UBSan whatever the build, so a SANITIZE=1 pass does not run them again.
fuzz_seconds=${FUZZ_CI_SECONDS:-3}

expect_status 2 "fuzz.sh with an unknown target" scripts/fuzz.sh -n 1 no_such_target
expect_output "no target 'no_such_target'" "fuzz.sh names the unknown target" \
	scripts/fuzz.sh -n 1 no_such_target
expect_status 2 "fuzz.sh with a bad -t" scripts/fuzz.sh -t soon

case $bin in
*/san/*)
	# The plain pass ran them, sanitized: nothing to say here, and no
	# "skipped" line for what did run.
	;;
*)
	scripts/fuzz.sh deps >/dev/null 2>&1
	fuzz_deps=$?
	if [ "$fuzz_deps" -eq 77 ]; then
		echo "fuzz: skipped, clang with libFuzzer is not available"
	elif [ "$fuzz_deps" -ne 0 ]; then
		fail=$((fail + 1))
		echo "FAIL: fuzz: scripts/fuzz.sh deps exited $fuzz_deps"
	else
		for fuzz_f in fuzz/fuzz_*.c; do
			fuzz_t=${fuzz_f#fuzz/fuzz_}
			fuzz_t=${fuzz_t%.c}
			expect_status 0 "fuzz $fuzz_t for ${fuzz_seconds}s" scripts/fuzz.sh -t "$fuzz_seconds" "$fuzz_t"
			# The run reports its execution count; a target that ran nothing
			# would pass without testing anything.
			if grep -qE "^fuzz_$fuzz_t: [1-9][0-9]* runs in" "$cli_out"; then
				pass=$((pass + 1))
			else
				fail=$((fail + 1))
				echo "FAIL: fuzz $fuzz_t reported no runs"
				sed 's/^/    /' "$cli_out" | head -5
			fi
		done
	fi
	;;
esac
