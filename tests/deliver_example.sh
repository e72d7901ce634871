#!/usr/bin/env bash
# tests/deliver_example.sh - examples/deliver under `faultline deliver`: the
# naive Node.js endpoint must fail the scenario's SQL checks (exit 1, the
# check named in the report) and the correct one must pass (exit 0). Run
# inside scripts/servers.sh run --pg (FAULTLINE_PG_URL); installs the pinned
# pg package into build/deliver-example. Usage: FAULTLINE=bin tests/deliver_example.sh
set -uo pipefail
bin=${FAULTLINE:-build/faultline}
ex=examples/deliver
mods=build/deliver-example
: "${FAULTLINE_PG_URL:?run me under scripts/servers.sh run --pg --}"
if [ ! -d "$mods/node_modules/pg" ]; then
	mkdir -p "$mods" && cp "$ex/package.json" "$mods/" &&
		(cd "$mods" && npm install --no-audit --no-fund --silent >/dev/null) ||
		{ echo "deliver_example: npm install failed" >&2; exit 3; }
fi
work=$(mktemp -d /tmp/faultline-deliver-ex.XXXXXX)
node_pid=""
cleanup() { [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fails=0

run_one() { # NAME WANT-STATUS
	local name=$1 want=$2 db="faultline_$1"
	psql "$FAULTLINE_PG_URL" -qAt -c "drop database if exists $db" -c "create database $db" >/dev/null
	local url="${FAULTLINE_PG_URL/dbname=faultline/dbname=$db}"
	psql "$url" -q -f "$ex/${name}_schema.sql" >/dev/null || { echo "schema $name failed"; exit 3; }
	local pgurl
	pgurl="postgresql://$(echo "$url" | sed -E 's/.*user=([^ ]+).*/\1/')@127.0.0.1:$(echo "$url" | sed -E 's/.*port=([0-9]+).*/\1/')/$db"
	NODE_PATH="$PWD/$mods/node_modules" DATABASE_URL="$pgurl" WEBHOOK_SECRET=whsec_example \
		node "$ex/$name.js" >"$work/$name.log" 2>&1 &
	node_pid=$!
	for _ in $(seq 1 100); do grep -q listening "$work/$name.log" && break; sleep 0.05; done
	local port
	port=$(sed -n 's/^listening //p' "$work/$name.log")
	"$bin" deliver --to "http://127.0.0.1:$port/webhooks/stripe" --secret whsec_example \
		--scenario "$ex/scenario.yaml" --database "$url" --report "$work/$name" >"$work/$name.out" 2>&1
	local got=$?
	kill "$node_pid"; wait "$node_pid" 2>/dev/null; node_pid=""
	if [ "$got" -ne "$want" ]; then
		echo "FAIL: $name endpoint: exit $got, want $want"; sed 's/^/    /' "$work/$name.out"
		fails=$((fails + 1))
	fi
	[ -n "${DELIVER_EXAMPLE_SHOW:-}" ] && cat "$work/$name.out"
}
run_one naive 1
grep -q 'sql: one payment row per intent' "$work/naive/junit.xml" ||
	{ echo "FAIL: the naive report does not name the SQL check"; fails=$((fails + 1)); }
grep -q 'VIOLATED' "$work/naive.out" || { echo "FAIL: naive: no violation printed"; fails=$((fails + 1)); }
run_one correct 0
echo "deliver_example: $fails failed"
[ "$fails" -eq 0 ]
