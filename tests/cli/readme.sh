# tests/cli/readme.sh - the README's sample output is what the current build
# prints: the command it shows is run, and each line must match the README's
# once wall times (the only thing that varies) are set aside.
# Sourced by tests/cli_test.sh.

readme_ok=1
# The fenced block after "Each result is one line".
awk '/^Each result is one line/ {on = 1; next} on && /^```$/ {if (body) exit; body = 1; next}
     body {print}' README.md >"$cli_out.readme-block"
readme_cmd=$(sed -n 's/^\$ build\/faultline //p' "$cli_out.readme-block")
if [ -z "$readme_cmd" ]; then
	readme_ok=0
	echo "FAIL: README sample: no '\$ build/faultline ...' line in the sample block"
else
	sed '0,/^\$ build\/faultline /d' "$cli_out.readme-block" | sed -E 's/[0-9]+\.[0-9]+s( |$)/T\1/' >"$cli_out.readme-want"
	# shellcheck disable=SC2086
	"$bin" $readme_cmd 2>/dev/null | sed -E "s|$bin replay|build/faultline replay|" |
		sed -E 's/[0-9]+\.[0-9]+s( |$)/T\1/' >"$cli_out.readme-got"
	if ! diff -u "$cli_out.readme-want" "$cli_out.readme-got" >"$cli_out.readme-diff"; then
		readme_ok=0
		echo "FAIL: README sample output differs from a real run:"
		sed 's/^/    /' "$cli_out.readme-diff" | head -20
	fi
fi
if [ "$readme_ok" -eq 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
rm -f "$cli_out".readme-*
