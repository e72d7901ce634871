#!/usr/bin/env bash
# scripts/bench_profile.sh - instructions per simulated event: the large
# mixed workload under valgrind's callgrind (instruction counts, which a
# shared machine's neighbours cannot move; perf's hardware counters are not
# available in this VM), divided by the events the run reports, with the
# profile's ten costliest functions (self cost). Writes a JSON object to OUT.
#   scripts/bench_profile.sh BIN SCENARIO OUT
set -uo pipefail
bin=$1
scenario=$2
out=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! command -v valgrind >/dev/null; then
	echo '{"notes": ["valgrind missing: no instruction count"]}' >"$out"
	exit 0
fi
valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
	"$bin" run -q --stats --determinism 0 "$scenario" >"$work/stats.txt" 2>"$work/vg.txt"
callgrind_annotate "$work/cg.out" >"$work/top.txt" 2>/dev/null
python3 - "$work" "$out" <<'PY'
import json, re, sys
work, out = sys.argv[1:3]
events = int(re.search(r'stats: total (\d+) events', open(f"{work}/stats.txt").read())[1])
instr = int(re.search(r'Collected : (\d+)', open(f"{work}/vg.txt").read())[1])
top = []
rows = open(f"{work}/top.txt").read().split("file:function", 1)[1].splitlines()
for line in rows:
    m = re.match(r'\s*([\d,]+) \(\s*([\d.]+)%\)\s+(\S+)', line)
    if not m:
        continue
    fn = m[3].split(":")[-1] if ":" in m[3] else m[3]
    where = m[3].rsplit("/", 1)[-1]
    lib = re.search(r'\[([^\]]+)\]', line)
    top.append({"function": where if not where.startswith("???") else f"{lib[1].rsplit('/', 1)[-1] if lib else '?'} {fn}",
                "percent": float(m[2])})
    if len(top) == 10:
        break
json.dump({"sim_instructions": instr, "sim_instructions_events": events,
           "sim_instructions_per_event": round(instr / events), "sim_profile_top10": top},
          open(out, "w"))
PY
