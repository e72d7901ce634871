# tests/cli/ops.sh - `faultline ops`: the operations each fix and variant
# issues. docs/scenarios.md's table must be its output over the standard
# scenarios, every name in it must be one a fault rule accepts, and the
# table must say what the code does (the hardened rate limit sends MULTI/EXEC
# and never a bare EXPIRE). Sourced by tests/cli_test.sh.

expect_status 0 "ops --help" "$bin" ops --help
expect_status 2 "ops without PATH" "$bin" ops
expect_status 2 "ops with an unknown option" "$bin" ops --frobnicate scenarios/
expect_output "^faultline ops: unknown option '--frobnicate' \(try 'faultline ops --help'\)$" \
	"ops: one line for an unknown option" "$bin" ops --frobnicate scenarios/
expect_status 2 "ops on a bad scenario" "$bin" ops tests/data/scenarios/bad/negative-seeds.yaml

ops_got=$("$bin" ops --markdown scenarios/ 2>&1)
ops_rc=$?
ops_doc=$(sed -n '/^<!-- faultline ops --markdown scenarios\/ -->$/,/^<!-- end of faultline ops -->$/p' \
	docs/scenarios.md | sed '1d;$d')
if [ "$ops_rc" -eq 0 ] && [ -n "$ops_doc" ] && [ "$ops_got" = "$ops_doc" ]; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	echo "FAIL: docs/scenarios.md's operations table is not 'faultline ops --markdown scenarios/' (exit $ops_rc):"
	diff <(printf '%s\n' "$ops_doc") <(printf '%s\n' "$ops_got") | head -20 | sed 's/^/    /'
fi

# Every fix has three rows, and every name in them is a fault rule's op.
ops_text=$("$bin" ops scenarios/ 2>&1)
ops_bad=""
for ops_fix in ratelimit quote-email webhook request-dedup stripe-customer; do
	[ "$(grep -c "^$ops_fix " <<<"$ops_text")" -eq 3 ] || ops_bad+=" rows:$ops_fix"
done
ops_file=$(mktemp /tmp/faultline-ops.XXXXXX.yaml)
while read -r ops_target ops_op; do
	printf 'fixes: [ratelimit]\nfaults:\n  - {target: %s, op: "%s", kind: error}\n' \
		"$ops_target" "$ops_op" >"$ops_file"
	"$bin" check -q "$ops_file" >/dev/null 2>&1 || ops_bad+=" $ops_target.$ops_op"
done < <(sed -E 's/^[a-z-]+ +[a-z]+ +//; s/; /\n/g' <<<"$ops_text" |
	awk -F': ' '{n = split($2, ops, " "); for (i = 1; i <= n; i++) print $1, ops[i]}' | sort -u)
rm -f "$ops_file"
grep -qE '^ratelimit +hardened +redis: incr pexpire exec$' <<<"$ops_text" || ops_bad+=" ratelimit-hardened"
grep -qE '^ratelimit +legacy +redis: incr expire$' <<<"$ops_text" || ops_bad+=" ratelimit-legacy"
grep -qE '^webhook +legacy .*event_upsert' <<<"$ops_text" || ops_bad+=" webhook-legacy"
if [ -z "$ops_bad" ]; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	echo "FAIL: faultline ops scenarios/:$ops_bad"
	sed 's/^/    /' <<<"$ops_text" | head -20
fi
