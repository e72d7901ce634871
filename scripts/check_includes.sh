#!/usr/bin/env bash
# scripts/check_includes.sh - keeps the map of docs/design.md true: every
# project #include "..." in a room must point at a room that room may use.
# Usage: scripts/check_includes.sh [ROOT]   exit 0 clean, 1 a wrong arrow.
# Tests, fuzz targets and benchmarks may include anything; they are no room.
# One grep and one awk over the whole tree (it ran a grep and a sed per
# file before, three and a half seconds a run).
set -euo pipefail
root=${1:-.}
cd "$root"

files=$(find core sim harness live proxy reports cli -name '*.[ch]' | sort)
# grep exits 1 when no file includes anything; that is not an error here.
{ grep -Hn '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' $files || [ $? -eq 1 ]; } | awk '
BEGIN {
	# room -> the rooms (prefixes) it may include. "sim-runtime" is the
	# part of sim/ that is not a world: scheduler, PRNG, trace, faults,
	# assertion context.
	allowed["core"]    = "core/"
	allowed["sim"]     = "core/ sim/"
	allowed["harness"] = "core/ reports/ harness/ sim-world-face"
	allowed["live"]    = "core/ proxy/ sim/ live/"
	allowed["proxy"]   = "core/ proxy/ sim-runtime"
	allowed["reports"] = "core/ reports/"
	allowed["cli"]     = "core/ sim/ harness/ live/ proxy/ reports/ cli/"
	runtime = "sim/sched.h sim/prng.h sim/trace.h sim/fault.h sim/assert_ctx.h"
	# What the harness sees of sim/: the runtime, the scenario description,
	# the backend interface and the simulated backend constructor, never
	# the models or the simulated network behind it.
	world_face = runtime " sim/scenario.h sim/world_backend.h sim/world_sim.h"
	bad = 0
}
function listed(inc, list,    n, i, a) {
	n = split(list, a, " ")
	for (i = 1; i <= n; i++)
		if (a[i] == inc)
			return 1
	return 0
}
{
	# FILE:LINE:text
	f = $0; sub(/:.*/, "", f)
	rest = substr($0, length(f) + 2)
	line = rest; sub(/:.*/, "", line)
	inc = rest; sub(/^[^"]*"/, "", inc); sub(/".*/, "", inc)
	room = f; sub(/\/.*/, "", room)
	if (!(room in allowed))
		next
	n = split(allowed[room], rules, " ")
	ok = 0
	for (i = 1; i <= n; i++) {
		r = rules[i]
		if (r == "sim-runtime") ok = ok || listed(inc, runtime)
		else if (r == "sim-world-face") ok = ok || listed(inc, world_face)
		else if (index(inc, r) == 1) ok = 1
	}
	if (!ok) {
		printf "%s:%s: room %s may not include \"%s\" (allowed: %s; see docs/design.md)\n", \
		       f, line, room, inc, allowed[room] > "/dev/stderr"
		bad = 1
	}
}
END {
	if (bad) {
		print "check_includes: an include runs the wrong way" > "/dev/stderr"
		exit 1
	}
	print "check_includes: every include follows the map"
}'
