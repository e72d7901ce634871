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

# The README's serve example, run as written but on a free port: the first
# block after "Trying `serve`" starts it (servers and all), the second asks
# it; each "# ANSWER" line there is what the command before it prints, "..."
# standing for any text. Ctrl-C (SIGINT to the group) stops it.
readme_dir=$(mktemp -d /tmp/faultline-readme.XXXXXX)
chmod 0755 "$readme_dir"   # servers.sh runs PostgreSQL as postgres from here
awk -v d="$readme_dir" '/^Trying `serve`/ {on = 1; next} !on {next}
     /^```/ {if (++n == 4) exit; next}
     n == 1 {print > (d "/start")} n == 3 {print > (d "/ask")}' README.md
readme_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
readme_bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
readme_fix() { sed -e "s|127\.0\.0\.1:8080|127.0.0.1:$readme_port|g" -e "s|build/faultline|$readme_bin|g" \
	-e "s|scripts/servers\.sh|$PWD/scripts/servers.sh|g" "$1"; }
readme_ok=1
if [ ! -s "$readme_dir/start" ] || [ ! -s "$readme_dir/ask" ] || ! grep -q 127.0.0.1:8080 "$readme_dir/start"; then
	readme_ok=0
	echo "FAIL: README serve example: no start and ask blocks after 'Trying \`serve\`'"
else
	readme_fix "$readme_dir/start" >"$readme_dir/start.sh"
	# timeout makes its own process group: the whole example is signalled at once.
	(cd "$readme_dir" && exec timeout 180 bash -e start.sh) >"$readme_dir/out" 2>&1 &
	readme_pid=$!
	for _ in $(seq 1 600); do
		grep -qs "listening on http://127.0.0.1:$readme_port" "$readme_dir/out" && break
		kill -0 "$readme_pid" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -qs "listening on http://127.0.0.1:$readme_port" "$readme_dir/out"; then
		readme_ok=0
		echo "FAIL: README serve example did not start:"
		sed 's/^/    /' "$readme_dir/out" | head -20
	else
		readme_cmd=""
		readme_nasked=0
		while IFS= read -r readme_line; do
			case $readme_line in
			"# "*)
				readme_want=${readme_line#\# }
				readme_want=${readme_want//.../*}
				readme_got=$(bash -c "$(printf '%s\n' "$readme_cmd" | readme_fix /dev/stdin)" 2>&1)
				readme_nasked=$((readme_nasked + 1))
				# shellcheck disable=SC2053
				if [[ $readme_got != $readme_want ]]; then
					readme_ok=0
					echo "FAIL: README serve example: '$readme_cmd' printed '$readme_got', README says '${readme_line#\# }'"
				fi
				readme_cmd="" ;;
			*) readme_cmd+="$readme_line"$'\n' ;;
			esac
		done <"$readme_dir/ask"
		if [ "$readme_nasked" -lt 2 ]; then
			readme_ok=0
			echo "FAIL: README serve example: $readme_nasked answered requests, want 2"
		fi
	fi
	kill -INT -- "-$readme_pid" 2>/dev/null
	wait "$readme_pid" 2>/dev/null
fi
if [ "$readme_ok" -eq 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
rm -rf "$readme_dir"

# docs/report.png is the standard suite's report as it is now: the stamp
# scripts/report_png.sh wrote into it names the suite it showed.
readme_png=$(python3 - docs/report.png <<'PY'
import struct, sys
png = open(sys.argv[1], "rb").read()
i = 8
while i + 8 <= len(png):
    n, kind = struct.unpack(">I4s", png[i:i + 8])
    data = png[i + 8:i + 8 + n]
    if kind == b"tEXt" and data.startswith(b"faultline-suite\0"):
        print(data.split(b"\0", 1)[1].decode())
    i += 12 + n
PY
)
readme_stamp=$(FAULTLINE=$bin scripts/report_png.sh --stamp 2>&1)
if [ -n "$readme_png" ] && [ "$readme_png" = "$readme_stamp" ]; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	echo "FAIL: docs/report.png shows '${readme_png:-no stamp}', the suite is now '$readme_stamp' (run scripts/report_png.sh)"
fi
