#!/usr/bin/env bash
# tests/live_run_test.sh - `faultline run --live` end to end: a throwaway
# redis-server and PostgreSQL from scripts/servers.sh, the world_live Check
# suite against them, a few standard scenarios (hardened holds, the legacy
# webhook race and rate-limit lockout are caught), and unreachable servers
# (exit 3, quickly, naming the server). Every run is bounded by timeout(1).
#   tests/live_run_test.sh     FAULTLINE and CHECKS name the binaries
# Exit status: 0 all passed, 1 a check failed, 3 servers could not be set up.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${FAULTLINE:-$root/build/faultline}
checks=${CHECKS:-$root/build/run_checks}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
case $checks in /*) ;; *) checks=$PWD/$checks ;; esac

pass=0
fail=0
out=$(mktemp /tmp/faultline-liverun.XXXXXX)
trap 'rm -rf "$out" "$out.d"' EXIT

# want-status max-seconds description command...
check() {
	local want=$1 max=$2 what=$3
	shift 3
	local t0=$SECONDS
	timeout "$max" "$@" >"$out" 2>&1
	local got=$?
	if [ "$got" -ne "$want" ]; then
		fail=$((fail + 1))
		echo "FAIL: $what: exit $got, want $want (in $((SECONDS - t0)) s)"
		sed 's/^/    /' "$out" | head -30
		return 1
	fi
	pass=$((pass + 1))
}

# pattern description: the last check's output must match
holds() {
	if grep -qE -- "$1" "$out"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: $2: output lacks /$1/"
		sed 's/^/    /' "$out" | head -30
	fi
}

sc=$root/scenarios

if [ "${1:-}" = --inside ]; then
	: "${FAULTLINE_REDIS_URL:?servers.sh did not export FAULTLINE_REDIS_URL}"
	: "${FAULTLINE_PG_URL:?servers.sh did not export FAULTLINE_PG_URL}"
	check 0 120 "world_live suite on real servers" env CK_RUN_SUITE=world_live "$checks"

	check 0 120 "hardened holds live" "$bin" run --live --report "$out.d" \
		"$sc/webhook-concurrent-copies.yaml" "$sc/ratelimit-expire-fails-once.yaml" \
		"$sc/customer-insert-fails.yaml" "$sc/quote-email-send-retried.yaml" \
		"$sc/dedup-redis-blackhole.yaml"
	holds '^ok +webhook-concurrent-copies +hardened +3 seeds' "webhook copies held"
	holds '^ok +ratelimit-expire-fails-once +hardened +3 seeds' "rate limit held"
	holds '^5 scenarios run live: 0 violated, 0 not exercised, 5 held' "summary"
	if grep -qE '"mode": *"live"' "$out.d/report.json" 2>/dev/null; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: --report in live mode: report.json lacks \"mode\": \"live\""
	fi

	# Five seeds: a real race is caught in about nine seeds out of ten.
	check 1 120 "legacy webhook race caught live" "$bin" run --live --seeds 5 \
		--variant legacy "$sc/webhook-concurrent-copies.yaml"
	holds '^FAIL +webhook-concurrent-copies +legacy .*exactly-once' "double payment named"
	holds 'rerun live: [^ ]*faultline run --live --seed [0-9]+ --variant legacy' "rerun line"

	check 1 120 "legacy rate-limit lockout caught live" "$bin" run --live \
		--variant legacy "$sc/ratelimit-expire-fails-once.yaml"
	holds '^FAIL +ratelimit-expire-fails-once +legacy .*no-lockout 3/3' "lockout in every seed"
	holds 'has no TTL: locked out' "lockout message"

	# A restart's cut connection found dead after the restart ended is a
	# failure the request met, not an error "while Redis was healthy".
	check 0 90 "fail-closed policy holds live across a restart" "$bin" run --live --seed 1 \
		"$sc/ratelimit-fail-closed.yaml"
	# customer.start 25h: a live run waited the whole 25 hours before.
	check 0 60 "a day-long lead-in is cut live, and said" "$bin" run --live --seed 1 \
		"$sc/customer-earlier-deploy.yaml"
	holds '^ok +customer-earlier-deploy +hardened +1 seeds? ' "earlier deploy held"
	holds 'live: the 90000s before the first purchase \(customer.start\) last 2.00s' "cut said"

	check 0 60 "a scenario with no live fault is skipped, said why" "$bin" run --live \
		"$sc/dedup-redis-latency.yaml"
	holds '^SKIP +dedup-redis-latency' "SKIP line"
	holds 'not applied live: faults\[0\] \(redis latency on .set.' "not applied live"

	t0=$SECONDS
	check 3 10 "redis unreachable" "$bin" run --live --redis-url redis://127.0.0.1:1 \
		"$sc/webhook-concurrent-copies.yaml"
	holds 'redis at 127.0.0.1:1 refused the connection' "names redis"
	check 3 10 "postgres unreachable" "$bin" run --live \
		--pg-url "host=127.0.0.1 port=1 dbname=faultline" "$sc/webhook-concurrent-copies.yaml"
	holds 'postgres at 127.0.0.1:1 refused the connection' "names postgres"
	if [ $((SECONDS - t0)) -gt 8 ]; then
		fail=$((fail + 1))
		echo "FAIL: unreachable servers took $((SECONDS - t0)) s to report"
	fi
	echo "live_run: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
fi

[ -x "$bin" ] || { echo "live_run_test: $bin not built" >&2; exit 1; }
[ -x "$checks" ] || { echo "live_run_test: $checks not built" >&2; exit 1; }
# Without servers at all: every check that needs none.
check 3 10 "both servers unreachable" env -u FAULTLINE_REDIS_URL -u FAULTLINE_PG_URL "$bin" \
	run --live --redis-url redis://127.0.0.1:1 --pg-url "host=127.0.0.1 port=1 dbname=x" \
	"$sc/webhook-concurrent-copies.yaml"
holds '^faultline run --live: redis at 127.0.0.1:1 refused the connection' "names redis"
check 2 10 "no servers named" env -u FAULTLINE_REDIS_URL -u FAULTLINE_PG_URL "$bin" \
	run --live "$sc/webhook-concurrent-copies.yaml"
holds 'no Redis server given' "says what is missing"
check 2 10 "live options need --live" "$bin" run --time-scale 0.5 "$sc/webhook-concurrent-copies.yaml"
check 2 10 "--time-scale out of range" "$bin" run --live --time-scale 2 "$sc/webhook-concurrent-copies.yaml"
[ "$fail" -eq 0 ] || { echo "live_run: $pass passed, $fail failed"; exit 1; }
exec "$root/scripts/servers.sh" run --redis --pg -- env FAULTLINE="$bin" CHECKS="$checks" \
	"$0" --inside
