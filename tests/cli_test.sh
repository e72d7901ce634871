#!/usr/bin/env bash
# tests/cli_test.sh - the command as a user meets it: help, version, exit
# statuses. FAULTLINE names the binary (default build/faultline).
set -uo pipefail
bin=${FAULTLINE:-build/faultline}
pass=0
fail=0
cli_out=$(mktemp /tmp/faultline-cli.XXXXXX)

expect_status() { # expected-status description command...
	local want=$1 what=$2
	shift 2
	"$@" >"$cli_out" 2>&1
	local got=$?
	if [ "$got" -eq "$want" ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: $what: exit $got, want $want"
		sed 's/^/    /' "$cli_out" | head -20
	fi
}

expect_output() { # pattern description command...
	local pat=$1 what=$2
	shift 2
	local out
	out=$("$@" 2>&1)
	# A here-string, not a pipe: grep -q stops reading at the first match,
	# and under pipefail the writer's SIGPIPE would turn a match into a miss.
	if grep -qE -- "$pat" <<<"$out"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: $what: output lacks /$pat/"
	fi
}

expect_status 0 "--help" "$bin" --help
expect_output '^faultline [0-9]+\.[0-9]+\.[0-9]+$' "--version" "$bin" --version
expect_status 2 "no command" "$bin"
expect_status 2 "unknown command" "$bin" frobnicate
expect_output "unknown command 'frobnicate'" "unknown command message" "$bin" frobnicate

for t in tests/cli/*.sh; do
	[ -e "$t" ] || continue
	# shellcheck source=/dev/null
	. "$t"
done

rm -f "$cli_out"
echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
