#!/usr/bin/env python3
"""scripts/bench_shrink.py BIN OUT.json - issue 18's shrink figures: runs the
standard matrix, then `faultline shrink` on the first failing seed of every
violated (scenario, variant, invariant) cell, and writes the shrink_* fields
of build/bench.json: how many shrunk files fail again with `run` (and under
every seed tried), the median and longest shrink time, and for the known bug
of each fix the shrunk size against the hand-written minimal reproduction in
tests/data/shrink/ (in events). Measures; passes or fails nothing."""
import json, os, re, statistics, subprocess, sys, tempfile, time

binary, out = sys.argv[1], sys.argv[2]
HAND = {  # fix file -> (scenario, variant, invariant), as tests/cli/shrink.sh
    "webhook": ("scenarios/webhook-concurrent-copies.yaml", "legacy", "exactly-once"),
    "ratelimit": ("scenarios/ratelimit-expire-fails-once.yaml", "legacy", "no-lockout"),
    "dedup": ("scenarios/dedup-redis-blackhole.yaml", "legacy", "no-false-duplicate"),
    "customer": ("scenarios/customer-insert-fails.yaml", "legacy", "no-orphan"),
    "quote-email": ("scenarios/quote-email-customer-data.yaml", "legacy", "no-unhandled-error"),
}


def run(*args):
    return subprocess.run([binary, *args], capture_output=True, text=True)


def events_of(path, variant):
    p = run("run", "-v", variant, "--stats", "-n", "1", path)
    m = re.search(r"stats: (\d+) events in", p.stdout + p.stderr)
    return int(m.group(1)) if m else None


with tempfile.TemporaryDirectory() as tmp:
    run("matrix", "-q", "--report", f"{tmp}/m", "scenarios/")
    report = json.load(open(f"{tmp}/m/report.json"))
    cells = []
    for r in report["results"]:
        for name, inv in sorted(r["invariants"].items()):
            if not inv["held"] and inv["first_seed"] is not None:
                cells.append((r["file"], r["variant"], name, inv["first_seed"]))
    times, replayed, any_seed, rows = [], 0, 0, []
    for i, (f, v, inv, seed) in enumerate(cells):
        o = f"{tmp}/c{i}.yaml"
        t0 = time.monotonic()
        p = run("shrink", f, "--seed", str(seed), "-v", v, "--invariant", inv, "-o", o, "-q")
        dt = time.monotonic() - t0
        times.append(dt)
        m = re.search(r"^  (\d+) events, was (\d+); (\d+) runs", p.stdout, re.M)
        again = p.returncode == 0 and inv in run("run", "-q", "-v", v, o).stdout
        replayed += again
        any_seed += "under every seed tried" in p.stdout
        rows.append({"scenario": os.path.basename(f)[:-5], "variant": v, "invariant": inv,
                     "seed": seed, "s": round(dt, 3), "replays": again,
                     "events": int(m.group(1)) if m else None,
                     "events_before": int(m.group(2)) if m else None,
                     "runs": int(m.group(3)) if m else None})
    ratios = {}
    for fix, (f, v, inv) in HAND.items():
        o = f"{tmp}/hand-{fix}.yaml"
        p = run("shrink", f, "--seed", "1", "-v", v, "--invariant", inv, "-o", o, "-q")
        m = re.search(r"^  (\d+) events", p.stdout, re.M)
        hand = events_of(f"tests/data/shrink/{fix}.yaml", v)
        if m and hand:
            ratios[fix] = round(int(m.group(1)) / hand, 2)

b = {
    "shrink_cells": len(cells),
    "shrink_replay_pct": round(100.0 * replayed / len(cells), 1) if cells else None,
    "shrink_any_seed_pct": round(100.0 * any_seed / len(cells), 1) if cells else None,
    "shrink_median_s": round(statistics.median(times), 3) if times else None,
    "shrink_max_s": round(max(times), 3) if times else None,
    "shrink_runs_median": statistics.median([r["runs"] for r in rows if r["runs"]]) if rows else None,
    "shrink_size_vs_hand": ratios,
    "shrink_size_ratio_max": max(ratios.values()) if ratios else None,
    "shrink_results": rows,
}
json.dump(b, open(out, "w"), indent=2)
print(json.dumps({k: v for k, v in b.items() if k != "shrink_results"}, indent=2))
