#!/usr/bin/env bash
# tests/live_test.sh - the live adapters' Check suites (sim/live/) against
# real servers: starts a throwaway redis-server and PostgreSQL once through
# scripts/servers.sh, then runs each suite with CK_RUN_SUITE. The Stripe and
# mail suites bring their own fake servers and run here too.
#   tests/live_test.sh            CHECKS names the test binary
#                                 (default build/run_checks)
# Exit status: 0 all passed, 1 a suite failed, 3 a server could not be set up.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
checks=${CHECKS:-$root/build/run_checks}
suites=(redis_live pg_live stripe_live mail_live)

if [ "${1:-}" = --inside ]; then
	# Without the URLs the server suites would skip and pass: refuse that.
	: "${FAULTLINE_REDIS_URL:?servers.sh did not export FAULTLINE_REDIS_URL}"
	: "${FAULTLINE_PG_URL:?servers.sh did not export FAULTLINE_PG_URL}"
	rc=0
	for s in "${suites[@]}"; do
		env CK_RUN_SUITE="$s" "$checks" || rc=1
	done
	exit $rc
fi

[ -x "$checks" ] || { echo "live_test: $checks not built (make $checks)" >&2; exit 1; }
exec "$root/scripts/servers.sh" run --redis --pg -- "$0" --inside
