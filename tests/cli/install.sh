# tests/cli/install.sh - `make install` into a DESTDIR gives a user what they
# need: the binary, faultline-servers, the manual page and the standard
# scenarios; the installed binary runs the installed suite from elsewhere,
# `man -l` renders the page, which names every command, long option and exit
# status of the --help texts; `make uninstall` removes it all again.
# Sourced by tests/cli_test.sh.

inst_ok() { pass=$((pass + 1)); }
inst_bad() { fail=$((fail + 1)); echo "FAIL: install: $*"; }

inst_dest=$(mktemp -d /tmp/faultline-install.XXXXXX)
inst_prefix=/opt/faultline-test
inst_root=$inst_dest$inst_prefix
# -o: the binary under test is installed as it is, never rebuilt (under
# SANITIZE=1 it is build/san/faultline).
if make -s --no-print-directory -o "$bin" install BIN="$bin" DESTDIR="$inst_dest" \
	PREFIX="$inst_prefix" >"$cli_out" 2>&1; then
	inst_ok
else
	inst_bad "make install failed: $(head -5 "$cli_out")"
fi

for inst_f in bin/faultline bin/faultline-servers; do
	if [ -x "$inst_root/$inst_f" ]; then inst_ok; else inst_bad "no executable $inst_f"; fi
done
inst_man=$inst_root/share/man/man1/faultline.1
if [ -f "$inst_man" ]; then inst_ok; else inst_bad "no share/man/man1/faultline.1"; fi
inst_nsrc=$(find scenarios -maxdepth 1 -name '*.yaml' | wc -l)
inst_ngot=$(find "$inst_root/share/faultline/scenarios" -maxdepth 1 -name '*.yaml' 2>/dev/null | wc -l)
if [ "$inst_nsrc" -gt 0 ] && [ "$inst_nsrc" -eq "$inst_ngot" ]; then
	inst_ok
else
	inst_bad "$inst_ngot scenarios installed, want the $inst_nsrc of scenarios/"
fi

# The installed binary on the installed scenarios, from a folder that is not
# the project, with the replay line naming the installed binary.
inst_out=$(cd / && "$inst_root/bin/faultline" matrix -q "$inst_root/share/faultline/scenarios/" 2>&1)
inst_rc=$?
if [ "$inst_rc" -eq 0 ] && grep -q '^verdict: PASS' <<<"$inst_out"; then
	inst_ok
else
	inst_bad "installed matrix on installed scenarios: exit $inst_rc: $(tail -3 <<<"$inst_out")"
fi
inst_out=$(cd / && "$inst_root/bin/faultline" run --variant legacy --seeds 1 \
	"$inst_root/share/faultline/scenarios/webhook-concurrent-copies.yaml" 2>&1)
if grep -qF "replay: $inst_root/bin/faultline replay $inst_root/share/faultline/scenarios/webhook-concurrent-copies.yaml --seed 1 --variant legacy" <<<"$inst_out"; then
	inst_ok
else
	inst_bad "the installed binary's replay line: $(grep replay: <<<"$inst_out" | head -1)"
fi

# faultline-servers works without the project's deps.sh beside it.
inst_out=$("$inst_root/bin/faultline-servers" 2>&1)
inst_rc=$?
if [ "$inst_rc" -eq 2 ] && grep -q '^usage: .*run \[--redis\] \[--pg\] -- COMMAND' <<<"$inst_out"; then
	inst_ok
else
	inst_bad "faultline-servers without arguments: exit $inst_rc: $inst_out"
fi
# shellcheck disable=SC2016
inst_out=$(timeout 60 "$inst_root/bin/faultline-servers" run --redis -- \
	sh -c 'redis-cli -u "$FAULTLINE_REDIS_URL" ping' 2>&1)
if [ "$inst_out" = PONG ]; then
	inst_ok
else
	inst_bad "installed faultline-servers run --redis: '$inst_out', want PONG"
fi

# The manual page renders without warnings and names what the help names.
inst_txt=$(LC_ALL=C MANWIDTH=100 man --warnings -l "$inst_man" 2>"$cli_out.man-err")
inst_rc=$?
if [ "$inst_rc" -eq 0 ] && [ ! -s "$cli_out.man-err" ] && grep -q '^EXIT STATUS' <<<"$inst_txt"; then
	inst_ok
else
	inst_bad "man -l: exit $inst_rc: $(head -5 "$cli_out.man-err")"
fi
inst_version=$("$bin" --version)
if grep -q "^\.TH FAULTLINE 1 .*\"$inst_version\"" "$inst_man"; then
	inst_ok
else
	inst_bad "the page's .TH does not say '$inst_version'"
fi
inst_cmds=$("$bin" --help | awk '/^Commands:/ {on = 1; next} on && /^$/ {exit} on {print $1}')
[ -n "$inst_cmds" ] || inst_bad "no commands in faultline --help"
inst_missing=""
inst_statuses=""
for inst_c in $inst_cmds; do
	grep -qx "   $inst_c" <<<"$inst_txt" || inst_missing+=" command:$inst_c"
	for inst_o in $("$bin" "$inst_c" --help 2>&1 | grep -oE -- '--[a-z][a-z-]*[a-z]' | sort -u); do
		grep -qF -- "$inst_o" <<<"$inst_txt" || inst_missing+=" $inst_c:$inst_o"
	done
	# "Exit status: 0 ..., 1 ..." or "Exit 0 when ..., 1 when ...": the numbers.
	inst_statuses+=" $("$bin" "$inst_c" --help 2>&1 | tr '\n' ' ' |
		grep -oE 'Exit (status: )?[0-9][^.]*(\.[^ ][^.]*)*\.' |
		grep -oE '(^Exit (status: )?|[,;] |, or |and )[0-9]+ ' | grep -oE '[0-9]+')"
done
inst_statuses+=" $("$bin" --help | tr '\n' ' ' | grep -oE 'Exit status: .*' |
	grep -oE '(: |[,;] |, or )[0-9]+ ' | grep -oE '[0-9]+')"
inst_statuses=$(tr ' ' '\n' <<<"$inst_statuses" | grep -E '^[0-9]+$' | sort -un | tr '\n' ' ')
inst_exit=$(sed -n '/^EXIT STATUS/,/^[A-Z]/p' <<<"$inst_txt")
for inst_s in $inst_statuses; do
	grep -qE "^ +$inst_s +[a-z]" <<<"$inst_exit" || inst_missing+=" exit:$inst_s"
done
if [ -z "$inst_missing" ] && [ "$inst_statuses" = "0 1 2 3 " ]; then
	inst_ok
else
	inst_bad "the manual page lacks:$inst_missing (exit statuses in --help: $inst_statuses)"
fi

if make -s --no-print-directory -o "$bin" uninstall BIN="$bin" DESTDIR="$inst_dest" \
	PREFIX="$inst_prefix" >"$cli_out" 2>&1 && [ -z "$(find "$inst_dest" -type f)" ] &&
	[ ! -e "$inst_root/share/faultline" ]; then
	inst_ok
else
	inst_bad "make uninstall left: $(find "$inst_dest" -type f | head -5) $(head -3 "$cli_out")"
fi
rm -rf "$inst_dest" "$cli_out.man-err"
