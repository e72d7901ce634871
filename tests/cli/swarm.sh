# tests/cli/swarm.sh - run --swarm: replay lines repeat --swarm, replay
# reproduces the seed, the trace opens with the draw, and every failing seed's
# draw written to traces/NAME-SEED.yaml reproduces its violation with run.
# Sourced by tests/cli_test.sh.
sw_dir=$(mktemp -d /tmp/faultline-swarm.XXXXXX)
sw_sc=scenarios/webhook-concurrent-copies.yaml
expect_status 1 "run --swarm catches the legacy webhook" \
	"$bin" run --swarm -v legacy -n 8 -r "$sw_dir/r" "$sw_sc"
expect_output 'replay: .*faultline replay scenarios/webhook-concurrent-copies\.yaml --seed [0-9]+ --variant legacy --swarm' \
	"a swarm replay line repeats --swarm" "$bin" run --swarm -v legacy -n 8 "$sw_sc"
expect_status 0 "run --swarm holds for hardened" "$bin" run --swarm -n 16 "$sw_sc"
sw_n=$(find "$sw_dir/r/traces" -name 'webhook-concurrent-copies-*.yaml' | wc -l)
if [ "$sw_n" -ge 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: no traces/NAME-SEED.yaml written by run --swarm"; fi
for sw_f in "$sw_dir"/r/traces/webhook-concurrent-copies-*.yaml; do
	[ -e "$sw_f" ] || continue
	sw_seed=${sw_f##*-}; sw_seed=${sw_seed%.yaml}
	expect_status 0 "the written draw $sw_f is a valid scenario" "$bin" check "$sw_f"
	expect_status 1 "run of the written draw violates again" "$bin" run -v legacy "$sw_f"
	sw_a=$("$bin" replay "$sw_sc" --seed "$sw_seed" --variant legacy --swarm 2>&1 >/dev/null | grep -c VIOLATED)
	sw_b=$("$bin" replay "$sw_f" --seed "$sw_seed" --variant legacy 2>&1 >/dev/null | grep -c VIOLATED)
	if [ "$sw_a" -ge 1 ] && [ "$sw_a" -eq "$sw_b" ]; then pass=$((pass + 1)); else
		fail=$((fail + 1)); echo "FAIL: $sw_f: $sw_b violations, the swarm seed had $sw_a"; fi
	break
done
expect_output '^\{"t":0,"ev":"swarm","scenario":"webhook-concurrent-copies","draw":"' \
	"replay --swarm opens the trace with the draw" "$bin" replay "$sw_sc" --seed 3 --swarm
sw_t1=$("$bin" replay "$sw_sc" --seed 3 --swarm 2>/dev/null | md5sum)
sw_t2=$("$bin" replay "$sw_sc" --seed 3 --swarm 2>/dev/null | md5sum)
sw_t0=$("$bin" replay "$sw_sc" --seed 3 2>/dev/null | md5sum)
if [ "$sw_t1" = "$sw_t2" ] && [ "$sw_t1" != "$sw_t0" ]; then pass=$((pass + 1)); else
	fail=$((fail + 1)); echo "FAIL: swarm replay not identical twice, or the same as without --swarm"; fi
expect_status 2 "--swarm does not apply to --live" "$bin" run --live --swarm "$sw_sc"
# A seed's draw asks its own subset: the scenario's expect_reached is not
# asked of a swarm run, and a written draw does not carry it.
sw_exp=$("$bin" run --swarm -n 8 --variant hardened --report "$sw_dir/exp" scenarios/dedup-redis-latency.yaml 2>&1)
if grep -q "not exercised: expect_reached" <<<"$sw_exp"; then
	fail=$((fail + 1)); echo "FAIL: a swarm run was judged by the scenario's expect_reached"
else pass=$((pass + 1)); fi
if grep -l '^expect_reached' "$sw_dir"/*/traces/*.yaml "$sw_dir"/traces/*.yaml 2>/dev/null | grep -q .; then
	fail=$((fail + 1)); echo "FAIL: a written swarm draw carries expect_reached"
else pass=$((pass + 1)); fi
rm -rf "$sw_dir"
