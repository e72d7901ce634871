# tests/cli/mutants.sh - the hand-written mutant catalogue cannot rot: every
# patch in tests/mutants/ is named NN-fix-short-name.patch, says what mistake
# it models on a first line `# models: ...` and still applies to core/ (a dry run,
# nothing is changed). Sourced by tests/cli_test.sh, which provides $bin,
# expect_status, pass and fail. The mutation run itself is `make mutants`.
mutants_n=0
for mutant_p in tests/mutants/*.patch; do
	[ -e "$mutant_p" ] || continue
	mutants_n=$((mutants_n + 1))
	mutant_name=${mutant_p##*/}
	if [[ $mutant_name =~ ^[0-9]{2,3}-[a-z0-9]+(-[a-z0-9]+)+\.patch$ ]] &&
		head -n 1 "$mutant_p" | grep -qE '^# models: .{10,}'; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: mutant $mutant_name: not named NN-fix-short-name.patch or no '# models:' line first"
	fi
	expect_status 0 "mutant $mutant_name applies to core/" patch --dry-run -p1 -s -f -i "$mutant_p"
done
if [ "$mutants_n" -ge 45 ]; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	echo "FAIL: tests/mutants/ holds $mutants_n patches, want at least 45"
fi
# The equivalence list: each entry is KEY<tab>argument, a hand key names a
# patch that exists, an operator key names a file of core/ and holds the
# "old => new" change, and the summary marks a listed survivor equivalent.
mutants_eq_bad=$(grep -v '^#' tests/mutants/equivalent.tsv | awk -F'\t' '
	NF != 2 || length($2) < 20 { print "malformed: " $0; next }
	$1 !~ /\|/ { if (system("test -e tests/mutants/" $1 ".patch")) print "no patch: " $1; next }
	{ i = index($1, "|"); f = substr($1, 1, i - 1); rest = substr($1, i + 1)
	  ch = substr(rest, index(rest, "|") + 1)
	  if (system("test -e " f) || ch !~ / => /) print "bad key: " $1 }')
if [ -z "$mutants_eq_bad" ]; then pass=$((pass + 1)); else
	fail=$((fail + 1)); echo "FAIL: tests/mutants/equivalent.tsv: $mutants_eq_bad"; fi
mutants_eq_dir=$(mktemp -d /tmp/faultline-mutants.XXXXXX)
mkdir -p "$mutants_eq_dir/r"
printf '{"id":"18-webhook-in-txn-not-set","source":"hand","file":"core/webhook.c","line":1,"description":"x","change":"a => b","status":"survived","killed_by":null}\n' >"$mutants_eq_dir/r/a.json"
printf '{"id":"19-other","source":"hand","file":"core/webhook.c","line":1,"description":"y","change":"a => b","status":"survived","killed_by":null}\n' >"$mutants_eq_dir/r/b.json"
scripts/mutants_report.py summary "$mutants_eq_dir/r" "$mutants_eq_dir/m.json" "$mutants_eq_dir/m.md"
expect_output '^- hand: 0/1 killed \(0\.0 %; 0\.0 % of all 2 that built\): 0 by the suite, 0 by timeout, 1 survived, 1 argued equivalent' \
	"a listed survivor is argued equivalent and left out of the score" cat "$mutants_eq_dir/m.md"
rm -rf "$mutants_eq_dir"
