# tests/cli/live.sh - sourced by tests/cli_test.sh: the live adapters'
# suites against a throwaway redis-server and PostgreSQL (tests/live_test.sh),
# with the test binary that sits beside the command under test.
expect_status 0 "live adapters against real servers (tests/live_test.sh)" \
	env CHECKS="$(dirname "$bin")/run_checks" tests/live_test.sh
