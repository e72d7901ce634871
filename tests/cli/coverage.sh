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
# VARIANT/KEY: a cell only that variant is asked to reach. The legacy
# limiter never sends EXEC, the hardened one always does.
printf 'name: cov\nfixes: [ratelimit]\nexpect_reached: [hardened/redis.exec=ok, legacy/redis.incr=int-1]\n' >"$cv_dir/per.yaml"
printf 'name: cov\nfixes: [ratelimit]\nexpect_reached: [legacy/redis.exec=ok]\n' >"$cv_dir/perbad.yaml"
printf 'name: cov\nfixes: [ratelimit]\nexpect_reached: [newest/redis.exec=ok]\n' >"$cv_dir/nov.yaml"
expect_status 0 "a per-variant cell reached by hardened" "$bin" run -n 2 --variant hardened "$cv_dir/per.yaml"
expect_status 0 "a per-variant cell reached by legacy" "$bin" run -n 2 --variant legacy "$cv_dir/per.yaml"
expect_status 1 "a per-variant cell its variant never reaches" "$bin" run -n 2 --variant legacy "$cv_dir/perbad.yaml"
expect_status 0 "a per-variant cell is not asked of other variants" "$bin" run -n 2 --variant hardened "$cv_dir/perbad.yaml"
expect_output "nov\.yaml:3:18: expect_reached\[0\]: unknown coverage key 'newest/redis\.exec=ok'" \
	"an unknown variant prefix is located" "$bin" check "$cv_dir/nov.yaml"
expect_output 'never reached in 1 seed$' "one seed, not one seeds" "$bin" run -n 1 "$cv_dir/never.yaml"
# Every standard scenario declares what it asks about, and reaches it.
for cv_f in scenarios/*.yaml; do
	grep -q '^expect_reached:' "$cv_f" || { fail=$((fail + 1)); echo "FAIL: $cv_f declares no expect_reached"; }
done
rm -rf "$cv_dir"
