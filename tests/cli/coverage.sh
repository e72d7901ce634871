# tests/cli/coverage.sh - expect_reached: a cell a scenario declares and the
# run never reaches makes it "not exercised" (exit 1); reached cells pass; an
# unknown key is refused at its line and column. Sourced by tests/cli_test.sh.
cv_dir=$(mktemp -d /tmp/faultline-cov.XXXXXX)
printf 'name: cov\nfixes: [ratelimit]\nexpect_reached: [ratelimit.rejected, redis.exec=ok, ratelimit.allowed]\n' >"$cv_dir/ok.yaml"
printf 'name: cov\nfixes: [ratelimit]\nexpect_reached: [redis.del=ok]\n' >"$cv_dir/never.yaml"
printf 'name: cov\nfixes: [ratelimit]\nexpect_reached: [redis.nope:error]\n' >"$cv_dir/bad.yaml"
expect_status 0 "expect_reached cells that are reached" "$bin" run -n 4 "$cv_dir/ok.yaml"
expect_status 1 "an expect_reached cell never reached" "$bin" run -n 4 "$cv_dir/never.yaml"
expect_output 'not exercised: expect_reached redis\.del=ok never reached in 4 seeds' \
	"the never-reached cell is named" "$bin" run -n 4 "$cv_dir/never.yaml"
expect_status 2 "an unknown coverage key" "$bin" check "$cv_dir/bad.yaml"
expect_output "bad\.yaml:3:18: expect_reached\[0\]: unknown coverage key 'redis\.nope:error'" \
	"the unknown key is located" "$bin" check "$cv_dir/bad.yaml"
rm -rf "$cv_dir"
