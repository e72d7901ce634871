#!/usr/bin/env bash
# tests/examples_test.sh BIN - every file in examples/ is checked: the YAML
# ones parse (python3-yaml; yamllint when installed) and have the shape their
# engine needs; the Slurm script passes bash -n and runs, task by task, with
# the variables Slurm sets; GNU parallel (when installed) runs 8 shards; each
# merge equals the unsharded run.
set -uo pipefail
bin=$(realpath "${1:-build/faultline}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "examples: $*" >&2; exit 1; }
python3 - examples/github-actions.yml examples/gitlab-ci.yml examples/k8s-indexed-job.yaml <<'PY' || fail "YAML shape"
import sys, yaml
gh = yaml.safe_load(open(sys.argv[1]))
assert gh["jobs"]["shard"]["strategy"]["matrix"]["shard"] == list(range(1, 9))
assert "report merge" in " ".join(s.get("run", "") for s in gh["jobs"]["merge"]["steps"])
gl = yaml.safe_load(open(sys.argv[2]))
assert gl["faultline-shard"]["parallel"] == 8 and "--shard auto" in " ".join(gl["faultline-shard"]["script"])
docs = list(yaml.safe_load_all(open(sys.argv[3])))
job = docs[0]
assert job["kind"] == "Job" and job["spec"]["completionMode"] == "Indexed"
env = {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
assert env["FAULTLINE_SHARD_COUNT"] == str(job["spec"]["completions"])
assert "report merge" in " ".join(docs[1]["spec"]["template"]["spec"]["containers"][0]["command"])
PY
if command -v yamllint >/dev/null; then
	yamllint -d '{extends: relaxed, rules: {line-length: disable}}' examples/*.yml examples/*.yaml ||
		fail "yamllint"
fi
bash -n examples/slurm-array.sbatch || fail "slurm script syntax"
grep -q '^#SBATCH --array=1-8' examples/slurm-array.sbatch || fail "no #SBATCH --array"
sc="scenarios/webhook-quick-duplicate.yaml scenarios/ratelimit-expire-fails-once.yaml"
# shellcheck disable=SC2086
"$bin" matrix -q -n 24 -r "$tmp/whole" $sc >/dev/null
for i in 1 2 3 4 5 6 7 8; do
	env SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_COUNT=8 SLURM_ARRAY_TASK_MIN=1 \
		FAULTLINE="$bin" SCENARIOS="$sc" SEEDS=24 OUT="$tmp/slurm" \
		bash examples/slurm-array.sbatch >/dev/null 2>&1 || fail "slurm task $i"
done
"$bin" report merge "$tmp/slurm-merged" "$tmp"/slurm/shard-* >/dev/null || fail "merge slurm"
diff -r "$tmp/whole" "$tmp/slurm-merged" >/dev/null || fail "slurm tasks' merge differs"
# Kubernetes completions, run here with the variables the Job sets
for k in 0 1 2 3 4 5 6 7; do
	# shellcheck disable=SC2086
	env JOB_COMPLETION_INDEX=$k FAULTLINE_SHARD_COUNT=8 "$bin" matrix -q -n 24 --shard auto \
		-r "$tmp/k8s/shard-$k" $sc >/dev/null 2>&1
	[ $? -le 1 ] || fail "k8s index $k"
done
"$bin" report merge "$tmp/k8s-merged" "$tmp"/k8s/shard-* >/dev/null || fail "merge k8s"
diff -r "$tmp/whole" "$tmp/k8s-merged" >/dev/null || fail "k8s merge differs"
if command -v parallel >/dev/null; then
	# shellcheck disable=SC2086
	parallel -j 2 "$bin" matrix -q -n 24 --shard {}/8 -r "$tmp/par/{}" $sc ::: 1 2 3 4 5 6 7 8 \
		>/dev/null 2>&1
	"$bin" report merge "$tmp/par-merged" "$tmp"/par/* >/dev/null || fail "merge parallel"
	diff -r "$tmp/whole" "$tmp/par-merged" >/dev/null || fail "GNU parallel merge differs"
fi
echo "examples: all checked"
