#!/usr/bin/env bash
# scripts/bench_live.sh - the live part of make bench, run inside
# scripts/servers.sh (FAULTLINE_REDIS_URL, FAULTLINE_PG_URL set): the fault
# proxy's overhead against redis-benchmark and pgbench, and signed webhook
# deliveries to `faultline serve`. Writes a JSON object to $2. Parts whose
# command is not built yet are recorded as null with a note.
set -uo pipefail
bin=$1
out=$2
work=$(mktemp -d)
notes=()
rport=${FAULTLINE_REDIS_URL##*:}
pgport=$(sed -n 's/.*port=\([0-9]*\).*/\1/p' <<<"$FAULTLINE_PG_URL")
# Servers are started inside $(...), a subshell: their pids go to a file.
cleanup() {
	[ -f "$work/pids" ] && while read -r p; do kill "$p" 2>/dev/null; done <"$work/pids"
	rm -rf "$work"
}
trap cleanup EXIT

redis_bench() { # port [clients] [requests] -> "rps p50_ms p99_ms", GET and SET averaged
	redis-benchmark -h 127.0.0.1 -p "$1" -c "${2:-50}" -n "${3:-200000}" -t get,set --csv 2>/dev/null |
		python3 -c '
import csv, sys
rows = [r for r in csv.reader(sys.stdin)]
head, data = rows[0], rows[1:]
rps = sum(float(r[1]) for r in data) / len(data)
p50 = sum(float(r[head.index("p50_latency_ms")]) for r in data) / len(data)
p99 = sum(float(r[head.index("p99_latency_ms")]) for r in data) / len(data)
print(rps, p50, p99)'
}

pg_bench() { # port script-args -> tps
	PGUSER=faultline pgbench -h 127.0.0.1 -p "$1" -n -T 10 -c 8 -j 2 "${@:2}" faultline 2>/dev/null |
		sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1
}

proxy_start() { # upstream-port -> prints listen port
	"$bin" proxy --listen 127.0.0.1:0 --upstream "127.0.0.1:$1" >"$work/proxy.$1" 2>&1 &
	echo $! >>"$work/pids"
	echo $! >"$work/pid.proxy.$1"
	for _ in $(seq 1 50); do
		p=$(sed -n 's/^proxy .* 127\.0\.0\.1:\([0-9]*\) ->.*/\1/p' "$work/proxy.$1" | head -1)
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.1
	done
	return 1
}

haproxy_start() { # upstream-port -> prints listen port; HAProxy, one thread, as a reference
	command -v haproxy >/dev/null || return 1
	local port
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cat >"$work/haproxy.cfg" <<CFG
global
  nbthread 1
  maxconn 1024
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
listen bench
  bind 127.0.0.1:$port
  server upstream 127.0.0.1:$1
CFG
	haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
	echo $! >>"$work/pids"
	echo $! >"$work/pid.haproxy.$1"
	for _ in $(seq 1 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && { echo "$port"; return 0; }
		sleep 0.1
	done
	return 1
}

# CPU seconds (user + system) a process has used so far, from /proc/PID/stat.
cpu_s() {
	awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# Where a process's time goes while one more redis-benchmark round runs
# through it (perf, software clock, so it works in a VM without hardware
# counters): the share in the kernel and the ten costliest symbols, self.
# Appends "NAME": {...} to $work/profiles. perf missing: nothing.
perf_profile() { # name pid port
	command -v perf >/dev/null || return 0
	perf record -q -F 2000 -e cpu-clock -o "$work/perf.$1" -p "$2" >/dev/null 2>&1 &
	local rec=$!
	sleep 0.3
	redis_bench "$3" >/dev/null
	kill -INT "$rec" 2>/dev/null
	wait "$rec" 2>/dev/null
	perf report -i "$work/perf.$1" --no-children --sort dso,symbol --stdio 2>/dev/null |
		python3 -c '
import json, re, sys
name = sys.argv[1]
rows = []
for line in sys.stdin:
    m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(\S+)", line)
    if m:
        rows.append((float(m[1]), m[2], m[3], m[4]))
kernel = sum(r[0] for r in rows if r[2] == "k")
top = [{"function": r[3], "where": r[1], "percent": r[0]} for r in rows[:10]]
print(json.dumps({name: {"kernel_percent": round(kernel, 1), "top10": top}}))' "$1" >>"$work/profiles"
}

# System calls per request of a process over one more redis-benchmark round
# (400,000 requests), from perf's syscall tracepoints: reads, writes and
# epoll_wait (each wait that finds nothing ready puts the process to sleep).
# Appends "NAME": {...} to $work/syscalls. perf or the tracepoints missing:
# nothing.
perf_syscalls() { # name pid port
	command -v perf >/dev/null || return 0
	local ev=syscalls:sys_enter_recvfrom,syscalls:sys_enter_read,syscalls:sys_enter_writev
	ev=$ev,syscalls:sys_enter_sendto,syscalls:sys_enter_write,syscalls:sys_enter_epoll_wait
	perf stat -x, -e "$ev" -o "$work/stat.$1" -p "$2" >/dev/null 2>&1 &
	local st=$!
	sleep 0.3
	redis_bench "$3" >/dev/null
	kill -INT "$st" 2>/dev/null
	wait "$st" 2>/dev/null
	python3 -c '
import json, sys
name, path = sys.argv[1:3]
n = {}
for line in open(path):
    f = line.strip().split(",")
    if len(f) > 2 and f[2].startswith("syscalls:sys_enter_") and f[0].isdigit():
        n[f[2].rsplit("_", 1)[-1] if "epoll" not in f[2] else "epoll_wait"] = int(f[0])
if n:
    per = lambda *k: round(sum(n.get(x, 0) for x in k) / 400000, 2)
    print(json.dumps({name: {"reads": per("recvfrom", "read"), "writes": per("writev", "sendto", "write"),
                             "epoll_waits": per("epoll_wait")}}))' "$1" "$work/stat.$1" >>"$work/syscalls" 2>/dev/null
}

median() { python3 -c 'import statistics, sys; print(round(statistics.median(float(x) for x in sys.argv[1:]), 3))' "$@"; }

r_ratio=null r_p50=null r_p99=null r1_p50=null pg_ratio=null pgs_ratio=null tps=null wh=null whd=null
whr=null whp=null
h_ratio=null h_p50=null hpgs_ratio=null p_cpu=null h_cpu=null
if "$bin" proxy --help >/dev/null 2>&1 && command -v redis-benchmark >/dev/null; then
	if pport=$(proxy_start "$rport"); then
		hport=$(haproxy_start "$rport") || { hport=; notes+=("haproxy not available: no reference proxy figures"); }
		# Three rounds of direct, faultline proxy and HAProxy back to back:
		# on a shared machine the rate drifts, and a ratio taken within one
		# round is steadier than one taken across the run. Medians kept.
		rr=() rp50=() rp99=() hr=() hp50=() pcpu=() hcpu=()
		ppid=$(cat "$work/pid.proxy.$rport")
		hpid=$( [ -n "$hport" ] && cat "$work/pid.haproxy.$rport")
		for _ in 1 2 3; do
			read -r d_rps d_p50 d_p99 < <(redis_bench "$rport")
			c0=$(cpu_s "$ppid")
			read -r p_rps p_p50 p_p99 < <(redis_bench "$pport")
			c1=$(cpu_s "$ppid")
			# redis-benchmark -t get,set -n 200000: 400,000 requests.
			pcpu+=("$(python3 -c "print(($c1 - $c0) * 1e6 / 400000)")")
			rr+=("$(python3 -c "print($p_rps / $d_rps)")")
			rp50+=("$(python3 -c "print(($p_p50 - $d_p50) * 1000)")")
			rp99+=("$(python3 -c "print(($p_p99 - $d_p99) * 1000)")")
			if [ -n "$hport" ]; then
				c0=$(cpu_s "$hpid")
				read -r h_rps h_p50_ _ < <(redis_bench "$hport")
				c1=$(cpu_s "$hpid")
				hcpu+=("$(python3 -c "print(($c1 - $c0) * 1e6 / 400000)")")
				hr+=("$(python3 -c "print($h_rps / $d_rps)")")
				hp50+=("$(python3 -c "print(($h_p50_ - $d_p50) * 1000)")")
			fi
		done
		r_ratio=$(median "${rr[@]}")
		r_p50=$(median "${rp50[@]}")
		r_p99=$(median "${rp99[@]}")
		p_cpu=$(median "${pcpu[@]}")
		[ ${#hcpu[@]} -gt 0 ] && h_cpu=$(median "${hcpu[@]}")
		if [ ${#hr[@]} -gt 0 ]; then
			h_ratio=$(median "${hr[@]}")
			h_p50=$(median "${hp50[@]}")
		fi
		perf_profile proxy "$ppid" "$pport"
		[ -n "$hport" ] && perf_profile haproxy "$hpid" "$hport"
		perf_syscalls proxy "$ppid" "$pport"
		[ -n "$hport" ] && perf_syscalls haproxy "$hpid" "$hport"
		# One client: the latency the proxy adds when nothing queues.
		read -r _ d1_p50 _ < <(redis_bench "$rport" 1 20000)
		read -r _ p1_p50 _ < <(redis_bench "$pport" 1 20000)
		r1_p50=$(python3 -c "print(round(($p1_p50 - $d1_p50) * 1000, 1))")
	fi
	PGUSER=faultline pgbench -h 127.0.0.1 -p "$pgport" -i -s 4 faultline >/dev/null 2>&1
	d_tps=$(pg_bench "$pgport")
	d_sel=$(pg_bench "$pgport" -S)
	if ppg=$(proxy_start "$pgport"); then
		p_tps=$(pg_bench "$ppg")
		p_sel=$(pg_bench "$ppg" -S)
		[ -n "$d_tps" ] && [ -n "$p_tps" ] && pg_ratio=$(python3 -c "print(round($p_tps / $d_tps, 3))")
		[ -n "$d_sel" ] && [ -n "$p_sel" ] && pgs_ratio=$(python3 -c "print(round($p_sel / $d_sel, 3))")
		if hpg=$(haproxy_start "$pgport"); then
			h_sel=$(pg_bench "$hpg" -S)
			[ -n "$d_sel" ] && [ -n "$h_sel" ] && hpgs_ratio=$(python3 -c "print(round($h_sel / $d_sel, 3))")
		fi
	fi
else
	notes+=("faultline proxy not built: proxy figures are null")
fi

# A comparable single-row transaction: claim an event, mark an order paid.
psql "$FAULTLINE_PG_URL" -qc "CREATE TABLE IF NOT EXISTS bench_events (id text PRIMARY KEY);
  CREATE TABLE IF NOT EXISTS bench_orders (id int PRIMARY KEY, paid int NOT NULL DEFAULT 0);
  INSERT INTO bench_orders SELECT g FROM generate_series(1, 100000) g ON CONFLICT DO NOTHING;" >/dev/null 2>&1
cat >"$work/txn.sql" <<'SQL'
\set o random(1, 100000)
BEGIN;
INSERT INTO bench_events VALUES (md5(random()::text)) ON CONFLICT DO NOTHING;
UPDATE bench_orders SET paid = paid + 1 WHERE id = :o;
COMMIT;
SQL
# The webhook client: build/bench_webhooks (C, one process on epoll, as
# pgbench's client is C) beside $bin; the Python threads of
# scripts/bench_webhooks.py are measured once more, for comparison with older
# runs, since they need most of a core of their own on a two-core machine.
client=$(dirname "$bin")/bench_webhooks
if "$bin" serve --help >/dev/null 2>&1 && [ -x scripts/bench_webhooks.py ] && [ -x "$client" ]; then
	# Three rounds of pgbench and webhooks back to back, medians kept,
	# and the ratio taken within each round (the machine drifts).
	tt=() ww=() wr=()
	for _ in 1 2 3; do
		t=$(pg_bench "$pgport" -f "$work/txn.sql")
		w=$(python3 scripts/bench_webhooks.py "$bin" 1 8 16 "$client" 2>/dev/null)
		[ -n "$t" ] && tt+=("$t")
		[ -n "$w" ] && ww+=("$w")
		[ -n "$t" ] && [ -n "$w" ] && wr+=("$(python3 -c "print($w / $t)")")
	done
	[ ${#tt[@]} -gt 0 ] && tps=$(median "${tt[@]}")
	[ ${#ww[@]} -gt 0 ] && wh=$(median "${ww[@]}")
	[ ${#wr[@]} -gt 0 ] && whr=$(median "${wr[@]}")
	whd=$(python3 scripts/bench_webhooks.py "$bin" 4 8 16 "$client" 2>/dev/null || echo null)
	whp=$(python3 scripts/bench_webhooks.py "$bin" 1 2>/dev/null || echo null)
else
	t=$(pg_bench "$pgport" -f "$work/txn.sql")
	[ -n "$t" ] && tps=$t
	notes+=("faultline serve, scripts/bench_webhooks.py or $client missing: webhook figures are null")
fi

touch "$work/profiles" "$work/syscalls"
PROFILES="$work/profiles" SYSCALLS="$work/syscalls" python3 - "$out" "$r_ratio" "$r_p50" "$r_p99" "$r1_p50" "$pg_ratio" "$pgs_ratio" "$tps" "$wh" "$whd" \
	"$h_ratio" "$h_p50" "$hpgs_ratio" "$p_cpu" "$h_cpu" "$whr" "$whp" "${notes[@]}" <<'PY'
import json, sys
def num(s):
    try: return float(s)
    except ValueError: return None
o, *v = sys.argv[1:18]
notes = sys.argv[18:]
keys = ["proxy_redis_throughput_ratio", "proxy_redis_p50_added_us", "proxy_redis_p99_added_us",
        "proxy_redis_p50_added_us_1client",
        "proxy_pg_throughput_ratio", "proxy_pg_select_throughput_ratio", "pgbench_tps",
        "webhook_live_per_s", "webhook_live_dup_per_s",
        "reference_haproxy_redis_throughput_ratio", "reference_haproxy_redis_p50_added_us",
        "reference_haproxy_pg_select_throughput_ratio",
        "proxy_cpu_us_per_request", "haproxy_cpu_us_per_request",
        "webhook_live_vs_pgbench", "webhook_live_python_per_s"]
d = {k: num(x) for k, x in zip(keys, v)}
# Judged against HAProxy in the same rounds: the proxy, the server and the
# client share the cores, so the ratio to direct says as much about them.
def over(a, b):
    return round(d[a] / d[b], 3) if d[a] is not None and d[b] else None
d["proxy_redis_vs_haproxy"] = over("proxy_redis_throughput_ratio", "reference_haproxy_redis_throughput_ratio")
d["proxy_pg_vs_haproxy"] = over("proxy_pg_select_throughput_ratio", "reference_haproxy_pg_select_throughput_ratio")
for k in ("proxy_cpu_us_per_request", "haproxy_cpu_us_per_request"):
    if d[k] is not None:
        d[k] = round(d[k], 2)
import os
for line in open(os.environ["PROFILES"]):
    for k, v in json.loads(line).items():
        d[k + "_profile"] = v
for line in open(os.environ["SYSCALLS"]):
    for k, v in json.loads(line).items():
        d[k + "_syscalls_per_request"] = v
d["notes"] = notes
json.dump(d, open(o, "w"))
PY
