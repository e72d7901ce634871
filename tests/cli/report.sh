# tests/cli/report.sh - 'faultline report render|merge' as a user runs them:
# usage and exit statuses, files named in errors, junit.xml against the JUnit
# XSD, report.json against docs/report.schema.json, merge of two halves equal
# to the whole, and report.html in headless Chromium. Sourced by
# tests/cli_test.sh, which provides bin, expect_status and expect_output.

report_tmp=$(mktemp -d)
# xmllint comes with libxml2-utils, which the build does not need.
if ! command -v xmllint >/dev/null && [ "$(id -u)" -eq 0 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		libxml2-utils >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1 &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			libxml2-utils >/dev/null 2>&1; }
fi
report_data=tests/data/reports

expect_status 0 "report --help" "$bin" report --help
expect_status 0 "report render --help" "$bin" report render --help
expect_status 0 "report merge --help" "$bin" report merge --help
expect_output '^usage: faultline report render DIR' "render --help text" "$bin" report render --help
expect_status 2 "report without action" "$bin" report
expect_status 2 "report unknown action" "$bin" report frobnicate
expect_output "unknown action 'frobnicate'" "report unknown action message" "$bin" report frobnicate
expect_status 2 "render without DIR" "$bin" report render
expect_status 2 "render with two DIRs" "$bin" report render a b
expect_status 2 "merge without IN" "$bin" report merge "$report_tmp/out"
expect_status 2 "merge unknown option" "$bin" report merge --frob "$report_tmp/out" x

# Unreadable and invalid inputs: exit 2, the file named.
expect_status 2 "render missing dir" "$bin" report render "$report_tmp/nothing"
expect_output "$report_tmp/nothing/report.json: cannot open" "render names missing file" \
	"$bin" report render "$report_tmp/nothing"
mkdir -p "$report_tmp/notjson" "$report_tmp/schema2"
printf '{"schema": 1,\n  oops\n' > "$report_tmp/notjson/report.json"
expect_status 2 "render invalid JSON" "$bin" report render "$report_tmp/notjson"
expect_output "notjson/report.json:2:[0-9]+: not valid JSON" "render names invalid JSON file" \
	"$bin" report render "$report_tmp/notjson"
sed 's/"schema": 1/"schema": 2/' "$report_data/sample/report.json" > "$report_tmp/schema2/report.json"
expect_output "schema2/report.json: schema: version 2 is not supported" "render refuses schema 2" \
	"$bin" report render "$report_tmp/schema2"
expect_status 2 "merge with an invalid input" \
	"$bin" report merge "$report_tmp/out" "$report_data/merge/part-a" "$report_tmp/schema2"
expect_output "schema2/report.json" "merge names the invalid input" \
	"$bin" report merge "$report_tmp/out" "$report_data/merge/part-a" "$report_tmp/schema2"

# render: rewrites the three pages, leaves report.json as it was.
mkdir -p "$report_tmp/sample"
cp "$report_data/sample/report.json" "$report_tmp/sample/"
expect_status 0 "render sample" "$bin" report render "$report_tmp/sample"
expect_status 0 "render leaves report.json alone" \
	cmp "$report_data/sample/report.json" "$report_tmp/sample/report.json"
expect_status 0 "render wrote report.md" test -s "$report_tmp/sample/report.md"
expect_output '^# ❌ Fails: legacy violated no-lockout in ratelimit-expire-timeout \(and 12 more\)$' \
	"report.md verdict is the stored one" cat "$report_tmp/sample/report.md"
expect_output '^10 of 51 invariant checks violated, 35 held\.$' "report.md counts" \
	cat "$report_tmp/sample/report.md"
expect_status 0 "junit.xml valid against JUnit XSD" \
	xmllint --noout --schema tests/data/junit.xsd "$report_tmp/sample/junit.xml"
expect_status 0 "report.json valid against its JSON Schema" \
	python3 tests/json_schema_check.py docs/report.schema.json "$report_tmp/sample/report.json"

# The checkers are not vacuous: they refuse broken documents.
sed 's/name="no-crash"//' "$report_tmp/sample/junit.xml" > "$report_tmp/nameless.xml"
expect_status 3 "XSD refuses a testcase without name" \
	xmllint --noout --schema tests/data/junit.xsd "$report_tmp/nameless.xml"
sed 's/"held": false/"held": "no"/' "$report_tmp/sample/report.json" > "$report_tmp/held-string.json"
expect_status 1 "JSON Schema check refuses held as a string" \
	python3 tests/json_schema_check.py docs/report.schema.json "$report_tmp/held-string.json"

# Hostile text: still valid XML, and escaped in HTML.
mkdir -p "$report_tmp/hostile"
cp "$report_data/hostile/report.json" "$report_tmp/hostile/"
expect_status 0 "render hostile report" "$bin" report render "$report_tmp/hostile"
expect_status 0 "hostile junit.xml valid against JUnit XSD" \
	xmllint --noout --schema tests/data/junit.xsd "$report_tmp/hostile/junit.xml"
expect_status 1 "hostile report.html has no raw tag from the data" \
	grep -qE '<script|<b>|<svg onload' "$report_tmp/hostile/report.html"

# merge: two halves (a folder and a file) add up to the hand-written whole.
expect_status 0 "merge two halves" "$bin" report merge "$report_tmp/merged" \
	"$report_data/merge/part-a" "$report_data/merge/part-b/report.json"
expect_status 0 "canonical whole" "$bin" report merge "$report_tmp/whole" \
	"$report_data/merge/whole-by-hand.json"
expect_status 0 "merge of halves equals the whole" \
	cmp "$report_tmp/merged/report.json" "$report_tmp/whole/report.json"
expect_status 0 "merge wrote junit.xml" test -s "$report_tmp/merged/junit.xml"
expect_status 0 "merge wrote report.html" test -s "$report_tmp/merged/report.html"
expect_status 0 "merged report.json valid against its JSON Schema" \
	python3 tests/json_schema_check.py docs/report.schema.json "$report_tmp/merged/report.json"
expect_status 2 "merge refuses a seed run twice" "$bin" report merge "$report_tmp/twice" \
	"$report_data/merge/part-a" "$report_data/merge/part-a"
expect_output "seeds 1-5 overlap seeds 1-5" "merge names the overlap" \
	"$bin" report merge "$report_tmp/twice" "$report_data/merge/part-a" "$report_data/merge/part-a"

expect_status 0 "report.html in headless Chromium" tests/report_html_test.sh

rm -rf "$report_tmp"
