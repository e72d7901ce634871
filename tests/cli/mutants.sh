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
