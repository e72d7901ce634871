# tests/cli/check.sh - "faultline check": exit statuses, the ok line, error
# lines as FILE:LINE:COL: message on stderr. Sourced by tests/cli_test.sh,
# which provides $bin, expect_status, expect_output, pass and fail.
check_data=tests/data/scenarios

expect_status 0 "check --help" "$bin" check --help
expect_output '^usage: faultline check \[--quiet\] PATH' "check --help text" "$bin" check --help
expect_status 2 "check without PATH" "$bin" check
expect_status 2 "check with an unknown option" "$bin" check --frobnicate "$check_data/good"

expect_status 0 "check a good folder" "$bin" check "$check_data/good"
expect_output '^ok  tests/data/scenarios/good/full\.yaml  \(full-example: ratelimit, quote-email, webhook, request-dedup, stripe-customer, 32 seeds, 14 faults\)$' \
	"check prints the ok line" "$bin" check "$check_data/good"
expect_output '^ok  tests/data/scenarios/good/minimal\.yaml  \(minimal: ratelimit, 64 seeds, 0 faults\)$' \
	"check names a scenario after its file" "$bin" check "$check_data/good/minimal.yaml"

expect_status 2 "check a bad file" "$bin" check "$check_data/bad/unknown-fault-kind.yaml"
expect_output "^tests/data/scenarios/bad/unknown-fault-kind\.yaml:7:11: faults\[0\]\.kind: unknown fault kind 'explode' \(expected one of: error, timeout-applied," \
	"check prints FILE:LINE:COL: message" "$bin" check "$check_data/bad/unknown-fault-kind.yaml"
# A missing ']' or '}' is reported where its flow opens, not where libfyaml
# gave up (the end of the file or the next key).
expect_output "^tests/data/scenarios/bad/yaml-syntax\.yaml:2:8: invalid YAML: the flow sequence opened here with '\[' has no closing '\]' before 4:1 " \
	"check reports a flow list without ']' at its '['" "$bin" check "$check_data/bad/yaml-syntax.yaml"
expect_output "^tests/data/scenarios/bad/flow-mapping-unclosed\.yaml:4:11: invalid YAML: the flow mapping opened here with '\{' has no closing '\}' before 5:1 " \
	"check reports a flow mapping without '}' at its '{'" "$bin" check "$check_data/bad/flow-mapping-unclosed.yaml"
expect_status 2 "check good and bad together" "$bin" check "$check_data/good" "$check_data/bad/negative-seeds.yaml"
expect_output '^ok  tests/data/scenarios/good/minimal\.yaml' \
	"check still reports the good files next to a bad one" \
	"$bin" check "$check_data/good" "$check_data/bad/negative-seeds.yaml"

for check_f in "$check_data"/bad/*.yaml; do
	expect_status 2 "check rejects $check_f" "$bin" check "$check_f"
done

# One error line per bad file, all on stderr; nothing on stdout.
check_nbad=$(find "$check_data/bad" -name '*.yaml' | wc -l)
check_nerr=$("$bin" check "$check_data/bad" 2>&1 >/dev/null | grep -c '^tests/data/scenarios/bad/')
check_nout=$("$bin" check "$check_data/bad" 2>/dev/null | wc -c)
if [ "$check_nerr" -eq "$check_nbad" ] && [ "$check_nout" -eq 0 ]; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	echo "FAIL: check bad folder: $check_nerr error lines for $check_nbad files, $check_nout bytes on stdout"
fi

# --quiet: a good run prints nothing at all.
check_out=$("$bin" check --quiet "$check_data/good" 2>&1)
if [ $? -eq 0 ] && [ -z "$check_out" ]; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	echo "FAIL: check --quiet printed: $check_out"
fi

expect_status 2 "check a missing path" "$bin" check "$check_data/no/such/place"
expect_output '^faultline check: tests/data/scenarios/no/such/place: No such file or directory$' \
	"check names the missing path" "$bin" check "$check_data/no/such/place"

check_tmp=$(mktemp -d)
expect_status 2 "check a folder without scenarios" "$bin" check "$check_tmp"
expect_output 'no scenario file \(\*\.yaml, \*\.yml\) found' \
	"check says no scenario was found" "$bin" check "$check_tmp"
rmdir "$check_tmp"

# The complete example of docs/scenarios.md (the first YAML block of its
# section) stays valid.
check_tmp=$(mktemp -d)
awk -v out="$check_tmp/example.yaml" '/^## A complete example/{sec=1} /^```yaml$/ && sec==1{on=1; sec=2; printf "" > out; next} /^```$/{on=0} on{print > out}' \
	docs/scenarios.md
expect_output '^ok  .*/example\.yaml  \(everything-at-once: ratelimit, quote-email, webhook, request-dedup, stripe-customer, 64 seeds, 9 faults\)$' \
	"the documented complete example passes check" "$bin" check "$check_tmp/example.yaml"
rm -f "$check_tmp/example.yaml"
rmdir "$check_tmp"
