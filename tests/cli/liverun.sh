# tests/cli/liverun.sh - sourced by tests/cli_test.sh: `faultline run --live`
# against a throwaway redis-server and PostgreSQL (tests/live_run_test.sh),
# with the test binary that sits beside the command under test.
expect_output 'Live mode' "run --help describes live mode" "$bin" run --help
expect_output 'Latencies and client timeouts stay real' "run --help says what is not scaled" \
	"$bin" run --help
expect_status 0 "run --live against real servers (tests/live_run_test.sh)" \
	env FAULTLINE="$bin" CHECKS="$(dirname "$bin")/run_checks" tests/live_run_test.sh
