#!/usr/bin/env bash
# tests/conformance_test.sh - the model/real-server conformance suite
# (tests/check_conformance.c): starts a throwaway redis-server and PostgreSQL
# through scripts/servers.sh and runs the suite against them, so every script
# runs on both sides and the results are compared.
#   tests/conformance_test.sh     CHECKS names the test binary
#                                 (default build/run_checks)
# Exit status: 0 all agreed, 1 a difference or a failure, 3 a server could
# not be set up.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
checks=${CHECKS:-$root/build/run_checks}

if [ "${1:-}" = --inside ]; then
	# Without both URLs the suite would skip its server half and pass.
	: "${FAULTLINE_REDIS_URL:?servers.sh did not export FAULTLINE_REDIS_URL}"
	: "${FAULTLINE_PG_URL:?servers.sh did not export FAULTLINE_PG_URL}"
	exec env CK_RUN_SUITE=conformance "$checks"
fi

[ -x "$checks" ] || { echo "conformance_test: $checks not built (make $checks)" >&2; exit 1; }
exec "$root/scripts/servers.sh" run --redis --pg -- "$0" --inside
