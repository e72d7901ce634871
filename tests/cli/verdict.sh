# tests/cli/verdict.sh - one verdict everywhere: for matrix and run over the
# standard suite, over each scenario file alone and over each fix's scenarios
# alone, the exit status, the verdict line, report.json's summary, the
# headlines of report.md and report.html and junit.xml's failures agree, and
# every reason of a FAIL is named in each. Also: counts that cannot wrap with
# an IDLE result. Sourced by tests/cli_test.sh.

vtmp=$(mktemp -d)

# agree DESCRIPTION COMMAND... : runs it with --report, checks agreement.
agree() {
	local what=$1
	shift
	rm -rf "$vtmp/r"
	"$@" -q --report "$vtmp/r" >"$vtmp/out" 2>&1
	local st=$?
	[ "$*" = "$bin matrix scenarios/" ] && cp -r "$vtmp/r" "$vtmp/green"
	if python3 - "$st" "$vtmp/out" "$vtmp/r" <<'PY' >"$vtmp/why" 2>&1 &&
import html, json, re, sys
st, out, d = int(sys.argv[1]), open(sys.argv[2]).read(), sys.argv[3]
j = json.load(open(d + "/report.json"))["summary"]
md = re.sub(r"\\(.)", r"\1", open(d + "/report.md").read())  # Markdown escapes
page = open(d + "/report.html").read()
junit = open(d + "/junit.xml").read()
assert st in (0, 1), "exit %d" % st
passed = st == 0
assert j["verdict"] == ("pass" if passed else "fail"), "summary.verdict %s" % j["verdict"]
if "matrix_verdict" in j:
    assert j["matrix_verdict"] == j["verdict"], "matrix_verdict differs"
lines = [l for l in out.splitlines() if l.startswith("verdict: ")]
assert len(lines) == 1, "want one verdict line, got %r" % lines
want = "verdict: %s: %s" % ("PASS" if passed else "FAIL", j["headline"])
assert lines[0] == want, "%r != %r" % (lines[0], want)
first = md.splitlines()[0]
assert first.startswith("# ✅ " if passed else "# ❌ "), first
assert first.endswith(": " + j["headline"]), first
assert re.search(r"(?i)^# . (matrix )?%s:" % ("passes" if passed else "fails"), first), first
h1 = re.search(r"<h1>(.*?)</h1>", page).group(1)
assert html.unescape(h1) == j["headline"], h1
word = re.search(r'<div class="word">(.*?)</div>', page).group(1)
assert ("PASSES" in word) == passed and ("FAILS" in word) != passed, word
reasons = [r["text"] for r in j["reasons"]]
assert passed == (not reasons), "reasons %r" % reasons
for r in reasons:
    assert r in out, "CLI lacks reason %r" % r
    assert ("\n- " + r + "\n") in md, "report.md lacks reason %r" % r
    assert "<li>" + html.escape(r, quote=True).replace("&#x27;", "&#39;") + "</li>" in page, \
        "report.html lacks reason %r" % r
m = re.search(r'<testsuites [^>]*failures="(\d+)"', junit)
assert int(m.group(1)) == len(reasons), "junit failures %s, reasons %d" % (m.group(1), len(reasons))
assert junit.count("<failure ") == len(reasons), "junit <failure> count"
PY
		xmllint --noout --schema tests/data/junit.xsd "$vtmp/r/junit.xml" 2>>"$vtmp/why"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: verdicts agree: $what"
		sed 's/^/    /' "$vtmp/why" | head -10
	fi
}

for cmd in matrix run; do
	agree "$cmd scenarios/" "$bin" "$cmd" scenarios/
	for f in scenarios/*.yaml; do
		agree "$cmd $f" "$bin" "$cmd" "$f"
	done
	for fix in ratelimit quote-email webhook request-dedup stripe-customer; do
		files=$(grep -l "^fixes: \[$fix\]" scenarios/*.yaml)
		# shellcheck disable=SC2086
		[ -n "$files" ] && agree "$cmd over $fix's scenarios" "$bin" "$cmd" $files
	done
done
agree "run --variant legacy scenarios/" "$bin" run --variant legacy scenarios/
agree "run --variant seed over one file" "$bin" run --variant seed scenarios/webhook-lost-after-claim.yaml

# The junit file of the green standard matrix (the report agree kept of
# `matrix scenarios/`) shows no red test.
expect_output '^<testsuites name="faultline" tests="[0-9]+" failures="0" ' \
	"green matrix: junit failures=\"0\"" cat "$vtmp/green/junit.xml"
expect_status 0 "green matrix junit.xml valid against the XSD" \
	xmllint --noout --schema tests/data/junit.xsd "$vtmp/green/junit.xml"
expect_output 'expected and caught: the legacy variant is meant to break exactly-once' \
	"an expected violation passes and says so" cat "$vtmp/green/junit.xml"

# A single file whose legacy bug it does not catch: the reason is named.
expect_output '^verdict: FAIL: legacy webhook never caught$' "subset names the uncaught fix" \
	"$bin" matrix -q scenarios/webhook-signature-shapes.yaml

# Counts are computed, never subtracted: an IDLE result next to a violated one.
idle=tests/data/scenarios/idle/idle.yaml
expect_output '^2 scenarios: 1 violated, 1 not exercised, 0 held$' "IDLE counts do not wrap" \
	"$bin" run -q --variant legacy "$idle" scenarios/ratelimit-expire-fails-once.yaml
expect_output '^  reason: legacy not exercised in idle$' "the FAIL names the IDLE result" \
	"$bin" run -q --variant legacy "$idle" scenarios/ratelimit-expire-fails-once.yaml
expect_output '^ratelimit          legacy     none violated; not exercised in 1 of 1 scenario$' \
	"matrix table does not call an IDLE result held" "$bin" matrix -q "$idle"
agree "run with an IDLE result" "$bin" run --variant legacy "$idle" \
	scenarios/ratelimit-expire-fails-once.yaml
agree "matrix with an IDLE hardened result" "$bin" matrix "$idle"
rm -rf "$vtmp"

# Small things a careful user notices.
expect_output "^faultline run: unknown option '--frobnicate' \(try 'faultline run --help'\)$" \
	"an unknown option is one line" "$bin" run --frobnicate scenarios/
expect_output "one variant for every fix stands alone" "--variant seed,hardened is explained" \
	"$bin" run --variant seed,hardened scenarios/
expect_output "not exercised" "top-level --help: not exercised exits 1" "$bin" --help
expect_output "^FAIL  webhook-concurrent-copies +legacy +128 seeds" "seeds plural" \
	"$bin" run -q --variant legacy scenarios/webhook-concurrent-copies.yaml
expect_output "^ok    ratelimit-expire-fails-once +hardened +1 seed " "1 seed, not 1 seeds" \
	"$bin" run -q --seed 7 scenarios/ratelimit-expire-fails-once.yaml
vd_one=$(mktemp -d /tmp/faultline-one.XXXXXX)
"$bin" run --seeds 1 --determinism 1 --stats --report "$vd_one" \
	scenarios/ratelimit-expire-fails-once.yaml >"$vd_one/out" 2>&1
expect_output ' run · 1 result · 1 seed · determinism checked: 0 mismatches$' \
	"report.md: 1 result, 1 seed" cat "$vd_one/report.md"
expect_output '<strong>1</strong>scenario × variant run</li><li class=""><strong>1</strong>seed</li>' \
	"report.html: 1 run, 1 seed" cat "$vd_one/report.html"
expect_output '^stats: total [0-9]+ events, 1 seed, ' "stats: 1 seed" cat "$vd_one/out"
expect_output '^      stats: [0-9]+ events in .*, 1 seed \(' "result stats: 1 seed" cat "$vd_one/out"
expect_status 1 "no '1 seeds', '1 results' or '(s)' anywhere" \
	grep -rE '\b1 (seeds|results|faults|reports|mismatches)\b|\(s\)|\(es\)' "$vd_one"
rm -rf "$vd_one"
expect_output "replay: $bin replay scenarios/webhook-concurrent-copies.yaml --seed 1" \
	"the replay line names the binary as invoked" \
	"$bin" run --variant legacy scenarios/webhook-concurrent-copies.yaml

# report merge brings along every trace its report names; report render of a
# copied report directory gives the same bytes.
mtmp=$(mktemp -d)
"$bin" run -q --variant legacy --seed 1 --report "$mtmp/a" scenarios/ >/dev/null 2>&1
"$bin" run -q --variant legacy --seed 2 --report "$mtmp/b" scenarios/ >/dev/null 2>&1
expect_status 0 "merge of two real runs" "$bin" report merge "$mtmp/m" "$mtmp/a" "$mtmp/b"
expect_status 0 "merge wrote every trace its report names" python3 -c '
import json, os, sys
d = sys.argv[1]
names = [r["trace_file"] for r in json.load(open(d + "/report.json"))["results"] if r["trace_file"]]
assert names and all(os.path.getsize(os.path.join(d, n)) > 0 for n in names), names' "$mtmp/m"
# The merge's own line gives the merged report's verdict, never another one.
expect_output '^merged 2 reports: [0-9]+ seeds, verdict: FAIL: legacy violated ' \
	"merge prints the verdict of the merged runs" "$bin" report merge "$mtmp/m2" "$mtmp/a" "$mtmp/b"
"$bin" matrix -q --shard 1/2 --report "$mtmp/s1" scenarios/ >/dev/null 2>&1
"$bin" matrix -q --shard 2/2 --report "$mtmp/s2" scenarios/ >/dev/null 2>&1
expect_output '^merged 2 reports of every shard: [0-9]+ seeds, verdict: PASS: hardened held all ' \
	"merge of a passing matrix's shards prints PASS (not 'violated')" \
	"$bin" report merge "$mtmp/s" "$mtmp/s1" "$mtmp/s2"
expect_output '"verdict": "pass"' "the merged matrix's report.json passes too" cat "$mtmp/s/report.json"
cp -r "$mtmp/a" "$mtmp/copy"
expect_status 0 "render of a copied report directory" "$bin" report render "$mtmp/copy"
for f in junit.xml report.md report.html; do
	expect_status 0 "render gives the same $f" cmp "$mtmp/a/$f" "$mtmp/copy/$f"
done
rm -rf "$mtmp"
expect_status 1 "no '//' in printed paths" sh -c "'$bin' run --variant legacy scenarios// 2>&1 | grep -q '//'"
# Files named with '//' are printed with one '/', in the lines and the reports.
vd_slash=$(mktemp -d /tmp/faultline-slash.XXXXXX)
"$bin" run --variant legacy --report "$vd_slash" scenarios//webhook-concurrent-copies.yaml \
	.//scenarios///ratelimit-fail-closed.yaml >"$vd_slash/out" 2>&1
expect_status 1 "no '//' in printed paths of files given with '//'" \
	grep -q '//' "$vd_slash/out" "$vd_slash/report.md" "$vd_slash/junit.xml"
expect_output '^        replay: .* replay \./scenarios/ratelimit-fail-closed\.yaml --seed' \
	"the replay line names the file with single slashes" cat "$vd_slash/out"
rm -rf "$vd_slash"
