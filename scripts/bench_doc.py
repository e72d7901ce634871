#!/usr/bin/env python3
"""scripts/bench_doc.py - prints the measured tables of docs/benchmarks.md
from build/bench.json (make bench writes it), so the page shows a real run's
numbers. Usage: scripts/bench_doc.py [build/bench.json]"""
import json, sys

b = json.load(open(sys.argv[1] if len(sys.argv) > 1 else "build/bench.json"))
m = b["machine"]
print(f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']}.\n")

def fmt(v, unit=""):
    if v is None:
        return "not measured"
    if isinstance(v, float) and v >= 1000:
        v = round(v)
    return f"{v:,}{unit}" if isinstance(v, int) else f"{v}{unit}"

print("| figure | measured | target |")
print("|---|---|---|")
rows = [
    ("simulator, instructions per event (callgrind, large mixed workload)", b.get("sim_instructions_per_event"), "<= 1,000 (goal 600)"),
    ("simulator, events/s, tracing off (large mixed workload, 1 core, best of 7)", b["sim_events_per_s"], ">= 4,000,000 (goal 5,000,000)"),
    ("simulator, events/s, tracing off, median of the 7 runs", b.get("sim_events_per_s_median"), ""),
    ("simulator, events/s, tracing on (digest of every line)", b["sim_events_per_s_traced"], ">= half of tracing off"),
    ("simulator, events/s, the standard suite (3,360 short seeds)", b.get("sim_events_per_s_suite"), ""),
    ("scheduler alone, events/s (bench/bench_sched.c)", b["sched_only_events_per_s"], ""),
    ("standard suite, every scenario x variant, wall s", b["suite_wall_s"], "< 10"),
    ("slowest first detection of a legacy bug, s", b["legacy_detect_max_s"], "< 1"),
    ("peak RSS for 10,000 seeds, MiB", b["peak_rss_mib_10k_seeds"], "< 64"),
    ("--jobs 2 speed-up over --jobs 1 (2,000 seeds)", b["jobs2_speedup"], ""),
    ("proxy: redis-benchmark GET/SET, 50 clients, throughput ratio", b["proxy_redis_throughput_ratio"], ""),
    ("proxy: p50 added, 50 clients, us", b["proxy_redis_p50_added_us"], ""),
    ("proxy: p50 added, 1 client, us", b.get("proxy_redis_p50_added_us_1client"), "< 20"),
    ("reference: HAProxy 2.6, one thread, same runs, throughput ratio", b.get("reference_haproxy_redis_throughput_ratio"), ""),
    ("reference: HAProxy p50 added, 50 clients, us", b.get("reference_haproxy_redis_p50_added_us"), ""),
    ("proxy: redis ratio / HAProxy ratio, same rounds (`proxy_redis_vs_haproxy`)", b.get("proxy_redis_vs_haproxy"), ">= 1.1"),
    ("proxy: CPU us per proxied request (`proxy_cpu_us_per_request`)", b.get("proxy_cpu_us_per_request"), "<= HAProxy's"),
    ("reference: HAProxy CPU us per request (`haproxy_cpu_us_per_request`)", b.get("haproxy_cpu_us_per_request"), ""),
    ("proxy: pgbench default mix, throughput ratio", b["proxy_pg_throughput_ratio"], ""),
    ("proxy: pgbench select-only, throughput ratio", b.get("proxy_pg_select_throughput_ratio"), ""),
    ("reference: HAProxy 2.6, one thread, pgbench select-only, throughput ratio", b.get("reference_haproxy_pg_select_throughput_ratio"), ""),
    ("live: signed webhooks/s to faultline serve", b["webhook_live_per_s"], ""),
    ("live: the same, 4 copies of each event", b.get("webhook_live_dup_per_s"), ""),
    ("live: signed webhooks/s, Python client threads (the client of runs before 2026-12-07)", b.get("webhook_live_python_per_s"), ""),
    ("proxy: pgbench select-only ratio / HAProxy ratio (`proxy_pg_vs_haproxy`)", b.get("proxy_pg_vs_haproxy"), ">= 1.1"),
    ("pgbench: claim + mark-paid transaction, tps", b["pgbench_tps"], ""),
    ("live: webhooks/s / pgbench tps (`webhook_live_vs_pgbench`)", b.get("webhook_live_vs_pgbench"), ">= 0.6"),
    ("shrink: shrunk files that fail again with run, % of the matrix's failing cells", b.get("shrink_replay_pct"), "100"),
    ("shrink: median time per failing cell, s", b.get("shrink_median_s"), "< 2"),
    ("shrink: longest, s", b.get("shrink_max_s"), "< 10"),
    ("shrink: shrunk size / hand-written minimal file, worst fix (events)", b.get("shrink_size_ratio_max"), "<= 1.5"),
]
for name, v, t in rows:
    print(f"| {name} | {fmt(v)} | {t} |")

print("\nFirst detection: wall seconds from the start of the sweep to the end of the first "
      "violating seed, and how many seeds had run by then (that one included):\n")
print("| fix / variant | s | seeds |")
print("|---|---|---|")
seeds = b.get("detect_first_seeds", {})
for k, v in b["detect_first_s"].items():
    print(f"| {k} | {v} | {seeds.get(k, '')} |")

if b.get("sim_profile_top10"):
    print("\nThe mixed workload's profile now, callgrind's ten costliest functions (self "
          "instructions, share of the run; `???` addresses are in stripped libraries: "
          "libcrypto's is SHA-256's block function, jansson's its lexer and hash table):\n")
    print("| function | % of instructions |")
    print("|---|---|")
    for t in b["sim_profile_top10"]:
        print(f"| `{t['function']}` | {t['percent']} |")

if b.get("proxy_profile"):
    pp, hp = b["proxy_profile"], b.get("haproxy_profile") or {"top10": []}
    print("\nThe proxies' profiles over one more redis-benchmark round (perf, cpu-clock "
          f"samples, self): faultline proxy {pp['kernel_percent']}% in the kernel, "
          f"HAProxy {hp.get('kernel_percent', 'not measured')}%; their ten costliest symbols:\n")
    print("| faultline proxy | % | HAProxy | % |")
    print("|---|---|---|---|")
    for i in range(max(len(pp["top10"]), len(hp["top10"]))):
        a = pp["top10"][i] if i < len(pp["top10"]) else None
        h = hp["top10"][i] if i < len(hp["top10"]) else None
        cell = lambda t: (f"`{t['function']}` ({t['where'].strip('[]')})", t["percent"]) if t else ("", "")
        print("| %s | %s | %s | %s |" % (*cell(a), *cell(h)))

if b.get("proxy_syscalls_per_request"):
    print("\nSystem calls per proxied request, the same kind of round (perf's syscall "
          "tracepoints):\n")
    print("| proxy | reads | writes | epoll_wait |")
    print("|---|---|---|---|")
    for name, k in (("faultline proxy", "proxy_syscalls_per_request"),
                    ("HAProxy 2.6", "haproxy_syscalls_per_request")):
        v = b.get(k)
        if v:
            print(f"| {name} | {v['reads']} | {v['writes']} | {v['epoll_waits']} |")

if b.get("scaling_concurrent"):
    print("\nScale: concurrent requests in one seed (request-dedup, every request and its "
          "copy within 10 ms, 2 seeds), one and two jobs:\n")
    print("| concurrent requests | jobs | events | wall s | events/s | peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    for r in b["scaling_concurrent"]:
        print(f"| {r['requests']:,} | {r['jobs']} | {r['events']:,} | {r['wall_s']} | "
              f"{fmt(r['events_per_s'])} | {r['peak_rss_mib']} |")

print("\nScaling in seeds (webhook-concurrent-copies, hardened, one process):\n")
print("| seeds | wall s | peak RSS MiB |")
print("|---|---|---|")
for s in b["scaling_seeds"]:
    print(f"| {int(s['seeds']):,} | {s['wall_s']} | {round(s['peak_rss_kib'] / 1024, 1)} |")

print("\nScaling in workload (request-dedup, one seed, requests per seed):\n")
print("| requests | wall s | peak RSS MiB |")
print("|---|---|---|")
for s in b["scaling_workload"]:
    print(f"| {int(s['requests']):,} | {s['wall_s']} | {round(s['peak_rss_kib'] / 1024, 1)} |")

print("\nSeeds per second, per standard scenario and variant (`matrix --stats`):\n")
print("| scenario | variant | seeds/s | simulated/wall |")
print("|---|---|---|---|")
for r in b["results"]:
    print(f"| {r['scenario']} | {r['variant']} | {r.get('seeds_per_s', '')} | {r.get('sim_per_wall', '')}x |")
