# tests/cli/run.sh - run, matrix and replay as users and CI meet them: exit
# statuses, replay lines, determinism across processes, --jobs, reports.
# Sourced by tests/cli_test.sh (uses $bin, expect_status, expect_output).

clitmp=$(mktemp -d)
trap 'rm -rf "$clitmp"' EXIT

expect_status 0 "run --help" "$bin" run --help
expect_output "--variant" "run --help names --variant" "$bin" run --help
expect_status 0 "matrix --help" "$bin" matrix --help
expect_status 0 "replay --help" "$bin" replay --help
expect_status 2 "run without a path" "$bin" run
expect_status 2 "run with an unknown option" "$bin" run --frobnicate scenarios/
expect_status 2 "run with a bad variant" "$bin" run --variant webhook=ancient scenarios/
expect_output "unknown variant 'ancient'" "bad variant message" "$bin" run --variant webhook=ancient scenarios/
expect_status 2 "run with --jobs 0" "$bin" run --jobs 0 scenarios/
expect_status 2 "run on a missing path" "$bin" run no/such/dir
expect_status 2 "run on a bad scenario" "$bin" run tests/data/scenarios/bad
expect_output '^[^:]+\.yaml:[0-9]+:[0-9]+: ' "bad scenario error is located" "$bin" run tests/data/scenarios/bad
expect_status 2 "replay without --seed" "$bin" replay scenarios/ratelimit-parallel-burst.yaml
expect_status 2 "matrix refuses --variant" "$bin" matrix --variant legacy scenarios/

# Hardened holds; legacy is caught with its replay line.
expect_status 0 "hardened holds on the webhook race" "$bin" run scenarios/webhook-concurrent-copies.yaml
expect_status 1 "legacy violates on the webhook race" "$bin" run --variant legacy scenarios/webhook-concurrent-copies.yaml
expect_output "replay: $bin replay scenarios/webhook-concurrent-copies.yaml --seed 1 --variant legacy" \
	"violation prints its replay command" "$bin" run --variant legacy scenarios/webhook-concurrent-copies.yaml
expect_status 1 "seed loses the event after the claim" "$bin" run --variant webhook=seed scenarios/webhook-lost-after-claim.yaml
expect_status 0 "one seed by --seed" "$bin" run --seed 7 scenarios/ratelimit-expire-fails-once.yaml
expect_status 1 "legacy lockout on one seed" "$bin" run --seed 7 --variant legacy scenarios/ratelimit-expire-fails-once.yaml

# --stats: the throughput line, and for a violated result how long and how
# many seeds it took to find (make bench reads both).
expect_output '^      stats: [0-9]+ events in [0-9.]+ s \([0-9]+ events/s\), 64 seeds' \
	"--stats prints events and seeds" "$bin" run -q --stats --determinism 0 scenarios/ratelimit-expire-fails-once.yaml
expect_output 'first violation after [0-9.]+ s \(1 seed\)' "--stats says the first seed caught the legacy bug" \
	"$bin" run -q --stats --determinism 0 --variant legacy scenarios/ratelimit-expire-fails-once.yaml
# The flapping scenario's legacy lockout (no-lockout alone) first shows at seed 2.
sed 's/^fixes: \[ratelimit\]$/&\ninvariants: [no-lockout]/' scenarios/ratelimit-redis-flapping.yaml \
	>"$clitmp/flapping-lockout.yaml"
expect_output 'first violation after [0-9.]+ s \(2 seeds\)' "--stats counts the seeds run until the first violation" \
	"$bin" run -q --stats --determinism 0 --variant legacy "$clitmp/flapping-lockout.yaml"

# A scenario whose faults never fire is not a pass.
expect_status 1 "a scenario that exercised nothing fails" "$bin" run tests/data/scenarios/idle/idle.yaml
expect_output "not exercised: no fault fired" "not exercised is said" "$bin" run tests/data/scenarios/idle/idle.yaml

# The main job: the standard suite as a matrix.
expect_status 0 "matrix over the standard suite passes" "$bin" matrix -q scenarios/
expect_output "^verdict: PASS" "matrix verdict line" "$bin" matrix -q scenarios/

# Determinism: the same seed gives a byte-identical trace in two processes.
"$bin" replay scenarios/mixed-all-faults.yaml --seed 3 --variant seed >"$clitmp/a.jsonl" 2>/dev/null
"$bin" replay scenarios/mixed-all-faults.yaml --seed 3 --variant seed >"$clitmp/b.jsonl" 2>/dev/null
if [ -s "$clitmp/a.jsonl" ] && cmp -s "$clitmp/a.jsonl" "$clitmp/b.jsonl"; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	echo "FAIL: replay of one seed differs between two processes"
fi
"$bin" replay scenarios/mixed-all-faults.yaml --seed 4 --variant seed >"$clitmp/c.jsonl" 2>/dev/null
if ! cmp -s "$clitmp/a.jsonl" "$clitmp/c.jsonl"; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	echo "FAIL: two different seeds gave the same trace"
fi
# Every trace line is JSON with a time and a kind (python3's json, not ours).
if python3 -c '
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    assert isinstance(o["t"], int) and isinstance(o["ev"], str)
' "$clitmp/a.jsonl"; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	echo "FAIL: replay trace is not JSON lines with t and ev"
fi

# --jobs 2 gives the same report as one process.
"$bin" run -q --variant legacy --jobs 1 --report "$clitmp/j1" scenarios/ >/dev/null 2>&1
"$bin" run -q --variant legacy --jobs 2 --report "$clitmp/j2" scenarios/ >/dev/null 2>&1
if [ -s "$clitmp/j1/report.json" ] && cmp -s "$clitmp/j1/report.json" "$clitmp/j2/report.json"; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	echo "FAIL: --jobs 2 and --jobs 1 wrote different report.json"
fi
for f in report.json junit.xml report.md report.html; do
	if [ -s "$clitmp/j1/$f" ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: --report did not write $f"
	fi
done
if ls "$clitmp/j1/traces/"*.jsonl >/dev/null 2>&1; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	echo "FAIL: --report did not write the traces of failing seeds"
fi

# A burst larger than the client's in-flight limit is refused, not a crash.
cat > "$clitmp/burst.yaml" <<'YAML'
fixes: [request-dedup]
seeds: 1
workload:
  request-dedup: {requests: 40000, duplicates: 1, spread: 0s, duplicate_delay: 0s, ttl: 10s}
YAML
expect_status 0 "a burst over the in-flight limit is handled" "$bin" run -q --determinism 0 "$clitmp/burst.yaml"

# The reports of a real run are valid: junit.xml against the JUnit schema,
# report.json against its documented schema.
if xmllint --noout --schema tests/data/junit.xsd "$clitmp/j1/junit.xml" 2>/dev/null; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	echo "FAIL: junit.xml of a real run does not validate"
fi
if python3 tests/json_schema_check.py docs/report.schema.json "$clitmp/j1/report.json" >/dev/null; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	echo "FAIL: report.json of a real run does not match docs/report.schema.json"
fi
"$bin" matrix -q --report "$clitmp/m" scenarios/ >/dev/null 2>&1
if python3 tests/json_schema_check.py docs/report.schema.json "$clitmp/m/report.json" >/dev/null &&
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["summary"]["matrix_verdict"]=="pass"' "$clitmp/m/report.json"; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	echo "FAIL: the matrix report is invalid or does not say pass"
fi
