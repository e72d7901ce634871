# tests/cli/comes_back.sh - after the run, a user left with one Stripe
# customer, unmapped and never answered ok, comes back a day later with every
# fault over: the hardened core maps the customer the run made (its search),
# the seed makes a second one. --swarm on mixed-all-faults used to call the
# hardened core's unmapped customers orphaned. Sourced by tests/cli_test.sh.
cb_dir=$(mktemp -d)
cat >"$cb_dir/never-back.yaml" <<'YAML'
name: never-back
fixes: [stripe-customer]
seeds: 4
duration: 10m
workload:
  stripe-customer: {users: 3, concurrent: 1, spread: 5s}
faults:
  - {target: postgres, op: customer_insert, kind: server-error, error: "40001", until: 1h}
YAML
expect_status 0 "hardened: the user who comes back a day later gets the run's customer" \
	"$bin" run -v hardened "$cb_dir/never-back.yaml"
expect_output 'user cu[0-9] has 2 Stripe customers' "seed: the user who comes back gets a second customer" \
	"$bin" run -v seed "$cb_dir/never-back.yaml"
expect_output '"ev":"comes_back","users":3,"after_us":90000000000' "the trace shows the phase" \
	"$bin" replay "$cb_dir/never-back.yaml" --seed 1 --variant hardened
cb_trace=$("$bin" replay "$cb_dir/never-back.yaml" --seed 1 --variant hardened 2>/dev/null)
if grep -q '"op":"customers.search","user":"cu0","status":200,"customer":"cus_' <<<"$cb_trace" &&
   [ "$(grep -c '"op":"customers.create","user":"cu0"' <<<"$cb_trace")" -eq 1 ]; then
	pass=$((pass + 1))
else
	fail=$((fail + 1)); echo "FAIL: the hardened call after the run did not find cu0's customer by search"
fi
expect_status 0 "--swarm: the hardened core holds mixed-all-faults over 500 draws" \
	"$bin" run --swarm -n 500 -v hardened scenarios/mixed-all-faults.yaml
rm -rf "$cb_dir"
