#!/usr/bin/env bash
# scripts/trace_identity.sh - checks that a change of code changed no
# behaviour: builds REF (a commit, default HEAD~1) beside the work tree and
# compares, for every standard scenario and variant, the traces of its first
# SEEDS seeds (default 3) and the matrix's report.json and trace files.
# Usage: scripts/trace_identity.sh [REF] [SEEDS]   exit 0 identical, 1 not.
set -euo pipefail
ref=${1:-HEAD~1}
nseeds=${2:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/ref" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT

git worktree add -q --detach "$tmp/ref" "$ref"
echo "trace_identity: building $ref and the work tree" >&2
make -s -C "$tmp/ref" -j2 build/faultline >/dev/null
make -s -j2 build/faultline >/dev/null

# Everything one binary says about the standard suite, into directory $2.
collect() {
	local bin=$1 out=$2
	mkdir -p "$out/traces"
	for f in scenarios/*.yaml; do
		local name
		name=$(basename "$f" .yaml)
		for v in legacy seed hardened; do
			for s in $(seq 1 "$nseeds"); do
				"$bin" replay "$f" --seed "$s" --variant "$v" \
					>"$out/traces/$name-$v-$s.jsonl" 2>"$out/traces/$name-$v-$s.held" || true
			done
		done
	done
	"$bin" matrix --quiet --report "$out/report" scenarios/ >/dev/null 2>&1 || true
	# Wall-clock timings may differ, and replay lines name each binary as
	# invoked: every mention of the binary's path is written as "faultline".
	python3 - "$out/report/report.json" "$bin" >"$out/report.norm.json" <<'PY'
import json, sys
def strip(x):
    if isinstance(x, str):
        return x.replace(sys.argv[2], "faultline")
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items()
                if not any(t in k for t in ("elapsed", "wall", "seconds", "duration_s", "_per_s"))}
    if isinstance(x, list):
        return [strip(v) for v in x]
    return x
print(json.dumps(strip(json.load(open(sys.argv[1]))), indent=1, sort_keys=True))
PY
	rm "$out/report/report.json" "$out/report/report.md" "$out/report/report.html" \
	   "$out/report/junit.xml"
}
collect "$tmp/ref/build/faultline" "$tmp/a"
collect "$root/build/faultline" "$tmp/b"
n=$(find "$tmp/b/traces" -name '*.jsonl' | wc -l)
if diff -r "$tmp/a" "$tmp/b" >"$tmp/diff"; then
	echo "trace_identity: identical to $ref ($n traces, report.json and matrix traces)"
else
	head -40 "$tmp/diff" >&2
	echo "trace_identity: DIFFERENT from $ref" >&2
	exit 1
fi
