# tests/cli/death.sh - death tests check why they died and say nothing when
# the expected assertion fires: every test registered to die of SIGABRT
# calls death_expect (tests/support/death.h), and the suites holding them
# print no "assertion failed" line. Sourced by tests/cli_test.sh.

death_missing=""
death_suites=""
for death_f in $(grep -l 'tcase_add_test_raise_signal' tests/*/check_*.c tests/*/*/check_*.c 2>/dev/null); do
	death_suites+=" $(basename "$death_f" .c | sed 's/^check_//')"
	for death_t in $(tr -d '\n\t ' <"$death_f" | grep -oE 'tcase_add_test_raise_signal\(tc,[a-z0-9_]+,SIGABRT\)' |
		sed -E 's/.*\(tc,([a-z0-9_]+),.*/\1/'); do
		# The test's body, from START_TEST to END_TEST, must call death_expect.
		sed -n "/^START_TEST($death_t)\$/,/^END_TEST\$/p" "$death_f" | grep -q 'death_expect("' ||
			death_missing+=" $death_t"
	done
done
if [ -n "$death_suites" ] && [ -z "$death_missing" ]; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	echo "FAIL: death tests without death_expect:$death_missing (suites:$death_suites)"
fi

death_checks=$(dirname "$bin")/run_checks
death_log=$(dirname "$bin")/run_checks.log
if [ -x "$death_checks" ]; then
	death_out=""
	if [ -f "$death_log" ] && [ "$death_log" -nt "$death_checks" ]; then
		# make test-run ran every suite with this binary just before (the
		# log is kept only when that run passed): read what they printed.
		death_out=$(cat "$death_log")
	else
		for death_s in $death_suites; do
			death_out+=$(CK_RUN_SUITE=$death_s "$death_checks" 2>&1)$'\n'
		done
	fi
	if grep -q 'assertion failed' <<<"$death_out" || ! grep -q '^100%: Checks' <<<"$death_out" ||
		grep -E '^[0-9]+%: Checks' <<<"$death_out" | grep -qv '^100%'; then
		fail=$((fail + 1))
		echo "FAIL: the death-test suites print assertion lines or fail:"
		grep -E 'assertion failed|Checks|:F:|:E:' <<<"$death_out" | head -10 | sed 's/^/    /'
	else
		pass=$((pass + 1))
	fi
else
	fail=$((fail + 1))
	echo "FAIL: death tests: no $death_checks (make $death_checks)"
fi
