# tests/cli/shard.sh - sharded runs as a user meets them: --shard I/N and auto
# (each engine's variables), the merge of N = 1, 3, 16 shards equal byte for
# byte to the unsharded run (traces included), merge refusals, --seed-first,
# --time-budget. Sourced by tests/cli_test.sh (bin, expect_status, expect_output).

shard_tmp=$(mktemp -d)
shard_sc="scenarios/webhook-quick-duplicate.yaml scenarios/ratelimit-expire-fails-once.yaml scenarios/dedup-redis-latency.yaml"
# shellcheck disable=SC2086
"$bin" matrix -q -n 40 --seed-first 100 -r "$shard_tmp/whole" $shard_sc >/dev/null 2>&1
for n in 1 3 16; do
	parts=()
	for i in $(seq 1 "$n"); do
		# shellcheck disable=SC2086
		"$bin" matrix -q -n 40 --seed-first 100 --shard "$i/$n" -r "$shard_tmp/s$n-$i" \
			$shard_sc >/dev/null 2>&1
		parts+=("$shard_tmp/s$n-$i")
	done
	expect_status 0 "merge of $n shards" "$bin" report merge "$shard_tmp/m$n" "${parts[@]}"
	expect_status 0 "merge of $n shards equals the unsharded run (all files)" \
		diff -r "$shard_tmp/whole" "$shard_tmp/m$n"
done
expect_status 0 "the whole run has traces" test -n "$(ls "$shard_tmp/whole/traces")"
expect_status 0 "merging a shard twice changes nothing" \
	"$bin" report merge "$shard_tmp/twice" "$shard_tmp"/s3-1 "$shard_tmp"/s3-2 "$shard_tmp"/s3-2 "$shard_tmp"/s3-3
expect_status 0 "idempotent merge equals the whole" diff -r "$shard_tmp/whole" "$shard_tmp/twice"
expect_status 2 "merge refuses a missing shard" \
	"$bin" report merge "$shard_tmp/miss" "$shard_tmp"/s3-1 "$shard_tmp"/s3-3
expect_output "1 of 3 shards missing: shard 2" "merge names the missing shard" \
	"$bin" report merge "$shard_tmp/miss" "$shard_tmp"/s3-1 "$shard_tmp"/s3-3
expect_status 2 "merge refuses shards of different counts" \
	"$bin" report merge "$shard_tmp/mix" "$shard_tmp"/s3-1 "$shard_tmp"/s16-2
# shellcheck disable=SC2086
"$bin" matrix -q -n 41 --seed-first 100 --shard 2/3 -r "$shard_tmp/other2" $shard_sc >/dev/null 2>&1
expect_output "shard 2/3 is given twice" "merge refuses a different duplicate shard" \
	"$bin" report merge "$shard_tmp/dup" "$shard_tmp"/s3-1 "$shard_tmp"/s3-2 "$shard_tmp/other2" "$shard_tmp"/s3-3
"$bin" matrix -q -n 40 --shard 3/3 -r "$shard_tmp/oneset" scenarios/webhook-quick-duplicate.yaml >/dev/null 2>&1
expect_output "scenario set" "merge refuses another scenario set" \
	"$bin" report merge "$shard_tmp/set" "$shard_tmp"/s3-1 "$shard_tmp"/s3-2 "$shard_tmp/oneset"
sed 's/"tool_version": "[^"]*"/"tool_version": "0.0.1"/' "$shard_tmp/s3-3/report.json" > "$shard_tmp/oldver.json"
expect_output "written by faultline 0.0.1" "merge refuses another version" \
	"$bin" report merge "$shard_tmp/ver" "$shard_tmp"/s3-1 "$shard_tmp"/s3-2 "$shard_tmp/oldver.json"

# --shard auto: each engine's variables, and none is an error, not a full run.
sc1=scenarios/webhook-quick-duplicate.yaml
expect_status 2 "--shard auto without variables" env -i PATH="$PATH" "$bin" run -q --shard auto "$sc1"
expect_output "no shard variables found" "--shard auto says none found" \
	env -i PATH="$PATH" "$bin" run -q --shard auto "$sc1"
expect_output "shard 2/4 from Kubernetes" "auto: Kubernetes Indexed Job" \
	env -i PATH="$PATH" JOB_COMPLETION_INDEX=1 "$bin" run -q -n 8 --shard auto --shard-count 4 "$sc1"
expect_output "shard 3/4 from Kubernetes" "auto: Kubernetes with FAULTLINE_SHARD_COUNT" \
	env -i PATH="$PATH" JOB_COMPLETION_INDEX=2 FAULTLINE_SHARD_COUNT=4 "$bin" run -q -n 8 --shard auto "$sc1"
expect_status 2 "auto: Kubernetes without a count" \
	env -i PATH="$PATH" JOB_COMPLETION_INDEX=2 "$bin" run -q --shard auto "$sc1"
expect_output "shard 1/3 from GitLab" "auto: GitLab" \
	env -i PATH="$PATH" CI_NODE_INDEX=1 CI_NODE_TOTAL=3 "$bin" run -q -n 8 --shard auto "$sc1"
expect_output "shard 5/5 from Buildkite" "auto: Buildkite" \
	env -i PATH="$PATH" BUILDKITE_PARALLEL_JOB=4 BUILDKITE_PARALLEL_JOB_COUNT=5 "$bin" run -q -n 8 --shard auto "$sc1"
expect_output "shard 8/8 from Slurm" "auto: Slurm job array" \
	env -i PATH="$PATH" SLURM_ARRAY_TASK_ID=8 SLURM_ARRAY_TASK_COUNT=8 SLURM_ARRAY_TASK_MIN=1 "$bin" run -q -n 8 --shard auto "$sc1"
expect_output "shard 2/2 from FAULTLINE_SHARD" "auto: FAULTLINE_SHARD" \
	env -i PATH="$PATH" FAULTLINE_SHARD=2/2 "$bin" run -q -n 8 --shard auto "$sc1"
expect_output "seeds_run: 2 of 2 planned \(shard 2/4\)" "a shard runs its share" \
	"$bin" run -q -n 8 --shard 2/4 "$sc1"
expect_status 2 "--shard 0/4" "$bin" run --shard 0/4 "$sc1"
expect_status 2 "--shard with --seed" "$bin" run --shard 1/4 --seed 3 "$sc1"
expect_status 2 "--time-budget 0s" "$bin" run --time-budget 0s "$sc1"
expect_status 2 "--time-budget bad unit" "$bin" run --time-budget 5y "$sc1"

# --seed-first and --time-budget: the seeds that ran are the plan's first.
"$bin" run -q -n 5 --seed-first 700 -r "$shard_tmp/sf" "$sc1" >/dev/null 2>&1
expect_output '"seed_min": 700' "--seed-first starts the range" cat "$shard_tmp/sf/report.json"
"$bin" run -q -j 2 --seed-first 50 --time-budget 300ms -r "$shard_tmp/budget" "$sc1" >/dev/null 2>&1
expect_status 0 "a budgeted run stops at a prefix of its plan" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
assert r["seeds_run"] > 0 and r["seeds_planned"] > r["seeds_run"], r
assert r["seed_min"] == 50 and r["seed_max"] == r["seed_next"] - 1 == 49 + r["seeds_run"], r
' "$shard_tmp/budget/report.json"
for i in 1 2; do
	"$bin" run -q --time-budget 200ms --shard "$i/2" -r "$shard_tmp/b$i" "$sc1" >/dev/null 2>&1
done
expect_output "not covered: webhook-quick-duplicate / hardened: seeds [0-9]+\.\.[0-9]+ of shard 1/2" \
	"merge says which seeds a budget left" "$bin" report merge "$shard_tmp/bm" "$shard_tmp/b1" "$shard_tmp/b2"

# Examples: every file parses; the runnable ones run (tests/examples_test.sh).
expect_status 0 "examples parse and run" tests/examples_test.sh "$bin"

rm -rf "$shard_tmp"
