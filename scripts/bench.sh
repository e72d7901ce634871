#!/usr/bin/env bash
# scripts/bench.sh - what `make bench` measures: simulator throughput, suite
# time, time to first detection, scaling in seeds and workload, --jobs, the
# fault proxy's overhead and live webhook throughput. Prints a table and
# writes build/bench.json. Nothing here passes or fails: it measures.
#   scripts/bench.sh BIN BENCH_SCHED
set -uo pipefail
bin=${1:-build/faultline}
bench_sched=${2:-build/bench_sched}
out=${BENCH_OUT:-build/bench.json}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
here=$(cd "$(dirname "$0")" && pwd)

# Runs a command, prints "wall_s peak_rss_kib" of it (children included).
measure() {
	python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
w = time.monotonic() - t
print(f"{w:.4f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
PY
}

echo "== machine"
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
cores=$(nproc)
mem=$(free -g | awk '/Mem:/ {print $2}')
echo "$cpu, $cores cores, ${mem} GiB"

echo "== scheduler alone (virtual clock, 1000 timers in flight)"
"$bench_sched" 20000000 1000 | tee "$work/sched.json"

echo "== simulator end to end: a large mixed workload, tracing off and on"
cat >"$work/big.yaml" <<'YAML'
name: bench-big
fixes: [ratelimit, request-dedup, webhook, stripe-customer]
seeds: 4
duration: 1h
workload:
  ratelimit: {users: 200, requests_per_user: 50, spread: 60s, limit: 20, window: 60s}
  request-dedup: {requests: 5000, duplicates: 1, spread: 60s, duplicate_delay: 2s, ttl: 10s}
  webhook: {events: 500, copies: 2, copy_spread: 5ms, spread: 60s}
  stripe-customer: {users: 500, concurrent: 2, spread: 60s, copy_spread: 10ms}
YAML
# Seven runs each. One run is a fraction of a second and a shared VM's
# neighbours move it by a third either way, always downwards: the best run
# is the one least disturbed (as timeit and hyperfine also report it), and
# the median and every run are kept beside it.
: >"$work/big_off.txt"
: >"$work/big_on.txt"
for _ in 1 2 3 4 5 6 7; do
	"$bin" run -q --stats --determinism 0 "$work/big.yaml" | grep 'stats:' | head -1 | tee -a "$work/big_off.txt"
	"$bin" run -q --stats --determinism 0 --trace-digest "$work/big.yaml" | grep 'stats:' | head -1 | tee -a "$work/big_on.txt"
done

echo "== instructions per event (callgrind over the large mixed workload)"
"$here/bench_profile.sh" "$bin" "$work/big.yaml" "$work/profile.json"
cat "$work/profile.json"; echo

echo "== scale: concurrent requests in one seed (request-dedup, all within 10 ms), --jobs 1 and 2"
: >"$work/scale.txt"
for n in 10 100 1000 10000; do
	cat >"$work/c$n.yaml" <<YAML
name: bench-concurrent-$n
fixes: [request-dedup]
seeds: 2
duration: 1h
workload:
  request-dedup: {requests: $n, duplicates: 1, spread: 10ms, duplicate_delay: 5ms, ttl: 10s}
YAML
	for j in 1 2; do
		r=$(measure "$bin" run -q --stats --determinism 0 --jobs "$j" "$work/c$n.yaml")
		ev=$("$bin" run -q --stats --determinism 0 --jobs "$j" "$work/c$n.yaml" | sed -n 's/^stats: total \([0-9]*\) events.*/\1/p')
		echo "$n $j ${ev:-0} $r" | tee -a "$work/scale.txt"
	done
done

echo "== the standard suite (the main job), seeds per second per result"
measure "$bin" matrix -q scenarios/ >"$work/suite_measure.txt"
"$bin" matrix -q --stats scenarios/ >"$work/suite_stats.txt"
cat "$work/suite_measure.txt"

echo "== scaling in seeds (webhook-concurrent-copies, hardened)"
: >"$work/seeds.txt"
for n in 1 10 100 1000 10000; do
	r=$(measure "$bin" run -q --determinism 0 --seeds "$n" scenarios/webhook-concurrent-copies.yaml)
	echo "$n $r" | tee -a "$work/seeds.txt"
done

echo "== scaling in workload (request-dedup, requests per seed, 1 seed)"
: >"$work/work.txt"
for n in 10 100 1000 10000 100000; do
	cat >"$work/w$n.yaml" <<YAML
name: bench-dedup-$n
fixes: [request-dedup]
seeds: 1
duration: 2h
workload:
  request-dedup: {requests: $n, duplicates: 1, spread: 600s, duplicate_delay: 2s, ttl: 10s}
YAML
	r=$(measure "$bin" run -q --determinism 0 "$work/w$n.yaml")
	echo "$n $r" | tee -a "$work/work.txt"
done

echo "== --jobs 1 against --jobs 2 (2000 seeds of mixed-all-faults, hardened)"
j1=$(measure "$bin" run -q --determinism 0 --seeds 2000 --jobs 1 scenarios/mixed-all-faults.yaml)
j2=$(measure "$bin" run -q --determinism 0 --seeds 2000 --jobs 2 scenarios/mixed-all-faults.yaml)
echo "jobs 1: $j1"
echo "jobs 2: $j2"

echo "== shrinking: every failing cell of the standard matrix (issue 18)"
python3 "$here/bench_shrink.py" "$bin" "$work/shrink.json"

echo "== live: fault proxy overhead and webhook throughput (real servers)"
"$here/servers.sh" run -- "$here/bench_live.sh" "$bin" "$work/live.json" || true
[ -s "$work/live.json" ] || echo '{}' >"$work/live.json"

python3 - "$work" "$out" "$cpu" "$cores" "$mem" "$j1" "$j2" <<'PY'
import json, re, sys, platform
work, out, cpu, cores, mem, j1, j2 = sys.argv[1:8]
def stats_line(path):
    """The best run of those in path (one per line), with the median and
    every run's rate beside it."""
    runs = []
    for line in open(path):
        m = re.search(r'(\d+) events in ([\d.]+) s \((\d+) events/s\), (\d+) seeds', line)
        if m:
            runs.append({"events": int(m[1]), "seconds": float(m[2]), "events_per_s": int(m[3]),
                         "seeds": int(m[4])})
    runs.sort(key=lambda r: r["events_per_s"])
    best = dict(runs[-1])
    best["median_events_per_s"] = runs[len(runs) // 2]["events_per_s"]
    best["runs_events_per_s"] = [r["events_per_s"] for r in runs]
    return best
sched = json.load(open(f"{work}/sched.json"))
off, on = stats_line(f"{work}/big_off.txt"), stats_line(f"{work}/big_on.txt")
suite_wall, suite_rss = open(f"{work}/suite_measure.txt").read().split()
m = re.search(r'stats: total (\d+) events, (\d+) seeds, sweep ([\d.]+) s \((\d+) events/s\)',
              open(f"{work}/suite_stats.txt").read())
suite_total = {"events": int(m[1]), "events_per_s": int(m[4])}
# Per result: seeds/s and first detection, from `matrix --stats`.
per_result, detect = [], {}
cur = None
for line in open(f"{work}/suite_stats.txt"):
    m = re.match(r'^(FAIL|ok|IDLE)\s+(\S+)\s+(\S+)\s+(\d+) seeds', line)
    if m:
        cur = {"scenario": m[2], "variant": m[3], "verdict": m[1], "seeds": int(m[4])}
        per_result.append(cur)
        continue
    m = re.search(r'\((\d+) seeds/s\).*?simulated ([\d.]+) s \((\d+)x wall\)'
                  r'(?:, first violation after ([\d.]+) s \((\d+) seeds?\))?', line)
    if m and cur is not None:
        cur["seeds_per_s"] = int(m[1])
        cur["sim_per_wall"] = int(m[3])
        if m[4] is not None:
            cur["first_detection_s"] = float(m[4])
            cur["first_detection_seeds"] = int(m[5])
fix_of = lambda sc: sc.split("-")[0]
legacy, legacy_seeds = {}, {}
for r in per_result:
    if r["variant"] in ("legacy", "seed") and "first_detection_s" in r and not r["scenario"].startswith("mixed"):
        key = (fix_of(r["scenario"]), r["variant"])
        legacy[key] = min(legacy.get(key, 1e9), r["first_detection_s"])
        legacy_seeds[key] = min(legacy_seeds.get(key, 1 << 62), r["first_detection_seeds"])
legacy_max = max(v for (f, var), v in legacy.items() if var == "legacy")
seeds = [dict(zip(("seeds", "wall_s", "peak_rss_kib"), map(float, l.split()))) for l in open(f"{work}/seeds.txt")]
wl = [dict(zip(("requests", "wall_s", "peak_rss_kib"), map(float, l.split()))) for l in open(f"{work}/work.txt")]
jw1, jw2 = float(j1.split()[0]), float(j2.split()[0])
live = json.load(open(f"{work}/live.json"))
prof = json.load(open(f"{work}/profile.json"))
shrink = json.load(open(f"{work}/shrink.json"))
scale = []
for l in open(f"{work}/scale.txt"):
    n, j, ev, wall, rss = l.split()
    scale.append({"requests": int(n), "jobs": int(j), "events": int(ev), "wall_s": float(wall),
                  "events_per_s": round(int(ev) / float(wall)) if float(wall) else None,
                  "peak_rss_mib": round(int(rss) / 1024, 1)})
b = {
    "machine": {"cpu": cpu, "cores": int(cores), "memory_gib": int(mem), "os": platform.platform()},
    "sim_events_per_s": off["events_per_s"],
    "sim_events_per_s_traced": on["events_per_s"],
    "sim_events_per_s_median": off["median_events_per_s"],
    "sim_events_per_s_runs": off["runs_events_per_s"],
    "sim_events_per_s_suite": suite_total["events_per_s"],
    "sched_only_events_per_s": int(sched["events_per_s"]),
    "suite_wall_s": float(suite_wall),
    "suite_peak_rss_mib": round(int(suite_rss) / 1024, 1),
    "legacy_detect_max_s": legacy_max,
    "detect_first_s": {f"{f}/{v}": s for (f, v), s in sorted(legacy.items())},
    "detect_first_seeds": {f"{f}/{v}": s for (f, v), s in sorted(legacy_seeds.items())},
    "legacy_detect_max_seeds": max(v for (f, var), v in legacy_seeds.items() if var == "legacy"),
    "results": per_result,
    "scaling_seeds": seeds,
    "scaling_workload": wl,
    "peak_rss_mib_10k_seeds": round([s for s in seeds if s["seeds"] == 10000][0]["peak_rss_kib"] / 1024, 1),
    "jobs1_wall_s": jw1, "jobs2_wall_s": jw2, "jobs2_speedup": round(jw1 / jw2, 2) if jw2 else None,
    "proxy_redis_throughput_ratio": live.get("proxy_redis_throughput_ratio"),
    "proxy_redis_p50_added_us": live.get("proxy_redis_p50_added_us"),
    "proxy_redis_p99_added_us": live.get("proxy_redis_p99_added_us"),
    "proxy_redis_p50_added_us_1client": live.get("proxy_redis_p50_added_us_1client"),
    "proxy_pg_throughput_ratio": live.get("proxy_pg_throughput_ratio"),
    "proxy_pg_select_throughput_ratio": live.get("proxy_pg_select_throughput_ratio"),
    "webhook_live_per_s": live.get("webhook_live_per_s"),
    "webhook_live_dup_per_s": live.get("webhook_live_dup_per_s"),
    "pgbench_tps": live.get("pgbench_tps"),
    "reference_haproxy_redis_throughput_ratio": live.get("reference_haproxy_redis_throughput_ratio"),
    "reference_haproxy_redis_p50_added_us": live.get("reference_haproxy_redis_p50_added_us"),
    "reference_haproxy_pg_select_throughput_ratio": live.get("reference_haproxy_pg_select_throughput_ratio"),
    "sim_instructions_per_event": prof.get("sim_instructions_per_event"),
    "sim_instructions": prof.get("sim_instructions"),
    "sim_profile_top10": prof.get("sim_profile_top10", []),
    "scaling_concurrent": scale,
    "proxy_redis_vs_haproxy": live.get("proxy_redis_vs_haproxy"),
    "proxy_pg_vs_haproxy": live.get("proxy_pg_vs_haproxy"),
    "proxy_cpu_us_per_request": live.get("proxy_cpu_us_per_request"),
    "haproxy_cpu_us_per_request": live.get("haproxy_cpu_us_per_request"),
    # The median of the three rounds' ratios (scripts/bench_live.sh).
    "webhook_live_vs_pgbench": round(live["webhook_live_vs_pgbench"], 3)
        if live.get("webhook_live_vs_pgbench") else None,
    "webhook_live_python_per_s": live.get("webhook_live_python_per_s"),
    # perf over one more redis-benchmark round through each proxy.
    **{k: v for k, v in live.items()
       if k.endswith("_profile") or k.endswith("_syscalls_per_request")},
    "live_notes": live.get("notes", []) + prof.get("notes", []),
    **shrink,
}
json.dump(b, open(out, "w"), indent=2)
print("\n== summary (written to %s)" % out)
rows = [
    ("simulator instructions per event (callgrind)", b["sim_instructions_per_event"], "<= 1,000 (goal 600)"),
    ("simulator events/s (tracing off, best of 7)", b["sim_events_per_s"], ">= 4,000,000"),
    ("simulator events/s (tracing off, median)", b["sim_events_per_s_median"], ""),
    ("simulator events/s (tracing on, digest)", b["sim_events_per_s_traced"], ""),
    ("simulator events/s (standard suite)", b["sim_events_per_s_suite"], ""),
    ("scheduler alone events/s", b["sched_only_events_per_s"], ""),
    ("standard suite wall s (matrix)", b["suite_wall_s"], "< 10"),
    ("slowest legacy first detection s", b["legacy_detect_max_s"], "< 1"),
    ("peak RSS MiB, 10,000 seeds", b["peak_rss_mib_10k_seeds"], "< 64"),
    ("--jobs 2 speed-up", b["jobs2_speedup"], ""),
    ("proxy redis throughput ratio", b["proxy_redis_throughput_ratio"], ""),
    ("proxy redis p50 added us (50 clients)", b["proxy_redis_p50_added_us"], "< 50"),
    ("proxy redis p50 added us (1 client)", b["proxy_redis_p50_added_us_1client"], "< 20"),
    ("HAProxy (1 thread) redis throughput ratio", b["reference_haproxy_redis_throughput_ratio"], "reference"),
    ("proxy pg throughput ratio", b["proxy_pg_throughput_ratio"], ""),
    ("proxy redis ratio / HAProxy ratio", b["proxy_redis_vs_haproxy"], ">= 1.1"),
    ("proxy pg select ratio / HAProxy ratio", b["proxy_pg_vs_haproxy"], ">= 1.1"),
    ("proxy CPU us per request", b["proxy_cpu_us_per_request"], "<= HAProxy's"),
    ("HAProxy CPU us per request", b["haproxy_cpu_us_per_request"], "reference"),
    ("webhooks/s / pgbench tps", b["webhook_live_vs_pgbench"], ">= 0.6"),
    ("live webhooks/s", b["webhook_live_per_s"], ""),
    ("live webhooks/s, Python client", b.get("webhook_live_python_per_s"), ""),
    ("pgbench tps (comparable txn)", b["pgbench_tps"], ""),
    ("shrunk files that fail again (% of cells)", b["shrink_replay_pct"], "100"),
    ("shrink median s", b["shrink_median_s"], "< 2"),
    ("shrink longest s", b["shrink_max_s"], "< 10"),
    ("shrunk size / hand minimal (worst fix)", b["shrink_size_ratio_max"], "<= 1.5"),
]
for name, v, target in rows:
    print(f"  {name:42s} {str(v):>14s}  {target}")
PY
