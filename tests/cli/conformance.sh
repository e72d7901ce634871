# tests/cli/conformance.sh - sourced by tests/cli_test.sh: the model/real-server
# conformance suite against a throwaway redis-server and PostgreSQL
# (tests/conformance_test.sh), with the test binary beside the command under test.
expect_status 0 "models agree with real servers (tests/conformance_test.sh)" \
	env CHECKS="$(dirname "$bin")/run_checks" tests/conformance_test.sh
