#!/usr/bin/env bash
# scripts/check_includes.sh - keeps the map of docs/design.md true: every
# project #include "..." in a room must point at a room that room may use.
# Usage: scripts/check_includes.sh [ROOT]   exit 0 clean, 1 a wrong arrow.
# Tests, fuzz targets and benchmarks may include anything; they are no room.
set -euo pipefail
root=${1:-.}
cd "$root"

# room -> the rooms (prefixes) it may include. "sim-runtime" is the part of
# sim/ that is not a world: scheduler, PRNG, trace, faults, assertion context.
allowed() {
	case "$1" in
	core)     echo "core/" ;;
	sim)      echo "core/ sim/" ;;
	harness)  echo "core/ reports/ harness/ sim-world-face" ;;
	live)     echo "core/ proxy/ sim/ live/" ;;
	proxy)    echo "core/ proxy/ sim-runtime" ;;
	reports)  echo "core/ reports/" ;;
	cli)      echo "core/ sim/ harness/ live/ proxy/ reports/ cli/" ;;
	*)        echo "" ;;
	esac
}
runtime="sim/sched.h sim/prng.h sim/trace.h sim/fault.h sim/assert_ctx.h"
# What the harness sees of sim/: the runtime, the scenario description, the
# backend interface and the simulated backend's constructor, never the
# models or the simulated network behind it.
world_face="$runtime sim/scenario.h sim/world_backend.h sim/world_sim.h"

bad=0
while IFS= read -r f; do
	room=${f%%/*}
	rules=$(allowed "$room")
	[ -n "$rules" ] || continue
	while IFS=: read -r line inc; do
		ok=0
		for r in $rules; do
			case "$r" in
			sim-runtime) for h in $runtime; do [ "$inc" = "$h" ] && ok=1; done ;;
			sim-world-face) for h in $world_face; do [ "$inc" = "$h" ] && ok=1; done ;;
			*) case "$inc" in "$r"*) ok=1 ;; esac ;;
			esac
		done
		if [ $ok -eq 0 ]; then
			echo "$f:$line: room $room may not include \"$inc\" (allowed: $rules; see docs/design.md)" >&2
			bad=1
		fi
	done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
	         sed -E 's/^([0-9]+):[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]*)".*/\1:\2/')
done < <(find core sim harness live proxy reports cli -name '*.[ch]' | sort)
if [ $bad -ne 0 ]; then
	echo "check_includes: an include runs the wrong way" >&2
	exit 1
fi
echo "check_includes: every include follows the map"
