#!/usr/bin/env python3
"""scripts/soak.py - the live soak (make soak, docs/soak.md).

  soak.py --bin build/faultline [--seconds S] [--out DIR] [--faults K,K,...]
          [--variant V] [--rate R] [--seed N] [--keep]

Starts its own redis-server and PostgreSQL on 127.0.0.1 (free ports, a
temporary directory), the fake Stripe (`faultline stripe`), an SMTP sink
(here, in Python, so that mail survives restarts of serve), one `faultline
proxy` in front of Redis and one in front of PostgreSQL (one process, one
control API), and `faultline serve` on the proxies. A load generator sends
signed webhooks (two concurrent copies each, Stripe-style redeliveries and
retries), payment-intent requests from many users (repeated request ids
among them, retried on 503) and quote e-mails (some clicked twice) at a
steady rate, while a fault schedule runs (--faults; default all, each at
least twice over 10 minutes):

  redis_kill9 pg_kill9 pg_fast_shutdown serve_restart pool_exhaustion
  toxic_latency toxic_reset_peer toxic_timeout toxic_redis_command
  toxic_pg_command

After S seconds the faults stop, retries drain, every user is probed once
more after a rate-limit window, and the servers' real state is judged:
every acknowledged event applied exactly once, no order paid twice, no
lockout (a probe refused, or a rate-limit key without a TTL), no false
duplicate while Redis was healthy, no orphan Stripe customer, at most one
e-mail per quote (and one for every quote answered sent). DIR/soak.json and
DIR/soak.html get the figures. Exit status: 0 every contract held, 1 one was
broken (the ids are in the report and on stderr), 2 bad usage, 3 the stack
could not be set up.
"""
import argparse
import asyncio
import hashlib
import heapq
import hmac
import html
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

FAULT_KINDS = ["redis_kill9", "pg_kill9", "pg_fast_shutdown", "serve_restart", "pool_exhaustion",
               "toxic_latency", "toxic_reset_peer", "toxic_timeout", "toxic_redis_command",
               "toxic_pg_command"]
# Which route a fault's recovery is read from: the first success of that
# route sent after the fault ended.
RECOVERY_ROUTE = {"redis_kill9": "intent", "toxic_timeout": "intent", "toxic_redis_command": "intent",
                  "pg_kill9": "webhook", "pg_fast_shutdown": "webhook", "pool_exhaustion": "webhook",
                  "toxic_reset_peer": "webhook", "toxic_pg_command": "webhook",
                  "toxic_latency": "webhook", "serve_restart": "any"}
SUCCESS = {"webhook": {200}, "intent": {201, 409, 429}, "quote": {200, 202, 422}}
RATE_WINDOW_S = 10
RATE_LIMIT = 5
DEDUP_TTL_S = 10
STRIPE_KEY = "sk_test_faultline_soak"


def log(msg):
    print(f"soak: {msg}", file=sys.stderr, flush=True)


class SetupError(Exception):
    pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, seconds, proc=None):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def read_line_matching(proc, pattern, seconds):
    """The first group of pattern in proc's stdout, within seconds, or None."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        line = proc.stdout.readline()
        if not line:
            return None
        m = re.search(pattern, line)
        if m:
            return m
    return None


# ---- an SMTP sink that outlives serve ---------------------------------------------------------

class SmtpSink:
    """Accepts every mail; counts them per quote ref (from the Subject)."""

    def __init__(self):
        self.port = free_port()
        self.mails = {}        # quote ref -> count
        self.total = 0
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.loop = None
        threading.Thread(target=self._run, daemon=True).start()
        if not self.ready.wait(5):
            raise SetupError("the SMTP sink did not start")

    def _run(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        srv = self.loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", self.port))
        self.server = srv
        self.ready.set()
        self.loop.run_forever()

    async def _client(self, reader, writer):
        try:
            writer.write(b"220 soak ESMTP\r\n")
            while True:
                line = await asyncio.wait_for(reader.readline(), 60)
                if not line:
                    break
                verb = line.strip().split(b" ")[0].upper()
                if verb in (b"EHLO", b"HELO"):
                    writer.write(b"250 soak\r\n")
                elif verb == b"DATA":
                    writer.write(b"354 go on\r\n")
                    await writer.drain()
                    body = []
                    while True:
                        l = await asyncio.wait_for(reader.readline(), 60)
                        if not l or l in (b".\r\n", b".\n"):
                            break
                        body.append(l)
                    self._mail(b"".join(body))
                    writer.write(b"250 queued\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    break
                else:
                    writer.write(b"250 ok\r\n")
                await writer.drain()
        except (asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    def _mail(self, data):
        m = re.search(rb"^Subject: Your quote (\S+)", data, re.M)
        ref = m.group(1).decode() if m else "?"
        with self.lock:
            self.mails[ref] = self.mails.get(ref, 0) + 1
            self.total += 1


# ---- the stack ------------------------------------------------------------------------------

def run_as_pg(cmd):
    return (["runuser", "-u", "postgres", "--"] + cmd) if os.getuid() == 0 else cmd


class Stack:
    def __init__(self, args, tmp):
        self.args = args
        self.bin = os.path.abspath(args.bin)
        self.tmp = tmp
        self.procs = {}
        self.redis_port = free_port()
        self.pg_port = free_port()
        self.serve_port = free_port()
        self.proxy_redis_port = free_port()
        self.proxy_pg_port = free_port()
        self.secret = "whsec_soak_" + os.urandom(8).hex()
        self.pg_bin = sorted((d for d in (f"/usr/lib/postgresql/{v}/bin" for v in os.listdir("/usr/lib/postgresql"))
                              if os.path.exists(d + "/initdb")), key=lambda d: int(d.split("/")[4]))[-1] \
            if os.path.isdir("/usr/lib/postgresql") else None
        self.pg_dir = os.path.join(tmp, "pg")
        self.serve_exits = []      # (t, status) of each serve that stopped
        self.serve_lock = threading.Lock()
        self.serve_proc = None

    # -- redis
    def start_redis(self):
        d = os.path.join(self.tmp, "redis")
        os.makedirs(d, exist_ok=True)
        p = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port),
                              "--save", "", "--appendonly", "no", "--dir", d,
                              "--logfile", os.path.join(d, "redis.log")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs["redis"] = p
        if not wait_port(self.redis_port, 10, p):
            raise SetupError(f"redis-server did not start (log {d}/redis.log)")

    def kill_redis(self):
        p = self.procs["redis"]
        p.send_signal(signal.SIGKILL)
        p.wait()

    def redis_cli(self, *cmd):
        r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.redis_port), "--raw"] + list(cmd),
                           capture_output=True, text=True, timeout=30)
        return r.stdout

    # -- postgres
    def pg_ctl(self, *a, check=True):
        r = subprocess.run(run_as_pg([self.pg_bin + "/pg_ctl", "-D", self.pg_dir] + list(a)),
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise SetupError(f"pg_ctl {' '.join(a)}: {r.stderr.strip() or r.stdout.strip()}")
        return r

    def init_pg(self):
        if self.pg_bin is None:
            raise SetupError("PostgreSQL server binaries not found (scripts/deps.sh live)")
        os.makedirs(self.pg_dir)
        if os.getuid() == 0:
            shutil.chown(self.pg_dir, "postgres")
        r = subprocess.run(run_as_pg([self.pg_bin + "/initdb", "-D", self.pg_dir, "-U", "faultline",
                                      "--auth=trust", "-E", "UTF8", "--no-instructions"]),
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SetupError("initdb failed: " + r.stderr.strip())
        self.start_pg()
        self.psql("CREATE DATABASE faultline", db="postgres")

    def start_pg(self):
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.pg_port} -k {self.pg_dir} -c fsync=off "
                f"-c max_connections=60")
        for attempt in range(20):
            r = self.pg_ctl("-l", os.path.join(self.pg_dir, "server.log"), "-w", "-t", "30", "-o", opts,
                            "start", check=False)
            if r.returncode == 0:
                return
            # After a kill -9, a backend that has not exited yet still holds
            # the data directory's shared memory: wait for it, then again.
            time.sleep(0.5)
        raise SetupError("PostgreSQL did not start: " + r.stderr.strip())

    def pg_postmaster(self):
        try:
            with open(os.path.join(self.pg_dir, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def kill9_pg(self):
        pm = self.pg_postmaster()
        if pm is None:
            return
        kids = subprocess.run(["pgrep", "-P", str(pm)], capture_output=True, text=True).stdout.split()
        # The postmaster first, as a crash would; then its children, which
        # would otherwise keep the shared memory (and a restart refused).
        for pid in [pm] + [int(k) for k in kids]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        end = time.monotonic() + 10
        for pid in [pm] + [int(k) for k in kids]:
            while os.path.exists(f"/proc/{pid}") and time.monotonic() < end:
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        if f.read().split(") ")[1].startswith("Z"):
                            break
                except OSError:
                    break
                time.sleep(0.02)

    def psql(self, sql, db="faultline"):
        r = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "faultline", "-d", db,
                            "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True, text=True,
                           timeout=120)
        if r.returncode != 0:
            raise SetupError(f"psql: {r.stderr.strip()}")
        return r.stdout

    # -- fake Stripe, proxies
    def _spawn(self, name, argv, pattern):
        """Starts argv, waits for pattern on its stdout, then keeps draining
        stdout (a full pipe would stall the process)."""
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True,
                             stderr=open(os.path.join(self.tmp, f"{name}.err"), "w"))
        self.procs[name] = p
        m = read_line_matching(p, pattern, 10)
        if not m:
            raise SetupError(f"faultline {name} did not start (log {self.tmp}/{name}.err)")
        threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
        return m

    def start_stripe(self):
        m = self._spawn("stripe", [self.bin, "stripe", "--listen", "127.0.0.1:0", "--api-key", STRIPE_KEY,
                                   "--seed", str(self.args.seed)], r"listening on (http://[\d.]+:(\d+))")
        self.stripe_url, self.stripe_port = m.group(1), int(m.group(2))

    def start_proxy(self):
        cfg = [{"name": "redis", "listen": f"127.0.0.1:{self.proxy_redis_port}",
                "upstream": f"127.0.0.1:{self.redis_port}"},
               {"name": "pg", "listen": f"127.0.0.1:{self.proxy_pg_port}",
                "upstream": f"127.0.0.1:{self.pg_port}"}]
        path = os.path.join(self.tmp, "proxies.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        m = self._spawn("proxy", [self.bin, "proxy", "--control", "127.0.0.1:0", "--config", path,
                                  "--seed", str(self.args.seed)], r"^control 127\.0\.0\.1:(\d+)")
        self.control_port = int(m.group(1))

    def control(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.control_port, timeout=10)
        try:
            c.request(method, path, body=json.dumps(body) if body is not None else None,
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            data = r.read()
            if r.status // 100 != 2:
                raise SetupError(f"control {method} {path}: {r.status} {data[:200]!r}")
            return data
        finally:
            c.close()

    def add_toxic(self, proxy, toxic):
        self.control("POST", f"/proxies/{proxy}/toxics", toxic)

    def del_toxic(self, proxy, name):
        self.control("DELETE", f"/proxies/{proxy}/toxics/{name}")

    def bounce_proxy(self, proxy):
        """Drops the proxy's connections so protocol toxics parse from the first byte."""
        self.control("POST", f"/proxies/{proxy}", {"enabled": False})
        self.control("POST", f"/proxies/{proxy}", {"enabled": True})

    # -- serve
    def serve_env(self):
        return dict(os.environ, FAULTLINE_WEBHOOK_SECRET=self.secret, FAULTLINE_STRIPE_URL=self.stripe_url,
                    FAULTLINE_STRIPE_KEY=STRIPE_KEY)

    def start_serve(self):
        pg = f"host=127.0.0.1 port={self.proxy_pg_port} dbname=faultline user=faultline"
        cmd = [self.bin, "serve", "--listen", f"127.0.0.1:{self.serve_port}", "--variant", self.args.variant,
               "--redis-url", f"redis://127.0.0.1:{self.proxy_redis_port}", "--pg-url", pg,
               "--smtp-url", f"smtp://127.0.0.1:{self.smtp.port}", "--rate-limit", str(RATE_LIMIT),
               "--rate-window", str(RATE_WINDOW_S), "--dedup-ttl", str(DEDUP_TTL_S),
               "--seed", str(self.args.seed)]
        errf = open(os.path.join(self.tmp, "serve.err"), "a")
        for attempt in range(40):
            p = subprocess.Popen(cmd, env=self.serve_env(), stdout=subprocess.PIPE, stderr=errf, text=True)
            m = read_line_matching(p, r"listening on http://", 15)
            if m:
                # Nothing else is read from its stdout: let it go nowhere.
                threading.Thread(target=lambda s=p.stdout: [None for _ in s], daemon=True).start()
                with self.serve_lock:
                    self.serve_proc = p
                return
            p.wait()
            # exit 3: a server could not be reached (it may be restarting).
            time.sleep(0.5)
        raise SetupError("faultline serve did not start (serve.err in the kept directory)")

    def stop_serve(self):
        with self.serve_lock:
            p, self.serve_proc = self.serve_proc, None
        if p is None:
            return None
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = "killed after 30 s"
        self.serve_exits.append((time.monotonic(), rc))
        return rc

    def start(self):
        self.smtp = SmtpSink()
        self.start_redis()
        self.init_pg()
        self.start_stripe()
        self.start_proxy()
        self.start_serve()
        # serve created the schema: the orders the webhooks will pay.
        self.psql(f"INSERT INTO orders (order_id, payment_intent_id) "
                  f"SELECT 'ord_' || g, 'pi_soak_' || g FROM generate_series(1, {self.args.orders}) g")

    def stop(self):
        self.stop_serve()
        for name in ("proxy", "stripe", "redis"):
            p = self.procs.get(name)
            if p is not None and p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        if self.pg_bin and self.pg_postmaster() is not None:
            self.pg_ctl("-m", "immediate", "-w", "stop", check=False)


# ---- load ------------------------------------------------------------------------------------

class Timeline:
    """Fault episodes, for the phase of each request."""

    def __init__(self, recover_s):
        self.episodes = []   # dicts: kind, start, end (None while on)
        self.recover_s = recover_s
        self.lock = threading.Lock()

    def begin(self, kind, detail):
        e = {"kind": kind, "detail": detail, "start": time.monotonic(), "end": None}
        with self.lock:
            self.episodes.append(e)
        return e

    def end(self, e):
        with self.lock:
            e["end"] = time.monotonic()

    def phase(self, t):
        with self.lock:
            for e in self.episodes:
                if e["start"] <= t and (e["end"] is None or t < e["end"]):
                    return "faulted"
            for e in self.episodes:
                if e["end"] is not None and e["end"] <= t < e["end"] + self.recover_s:
                    return "recovering"
        return "healthy"

    def healthy_span(self, t0, t1):
        """No fault on, or recovering from, anywhere in [t0, t1]."""
        with self.lock:
            for e in self.episodes:
                end = (e["end"] if e["end"] is not None else float("inf")) + self.recover_s
                if e["start"] <= t1 and t0 < end:
                    return False
        return True


def cause_of(exc):
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)):
        return "connection reset"
    if isinstance(exc, socket.timeout):
        return "timeout"
    return type(exc).__name__


class Load:
    def __init__(self, stack, timeline, args):
        self.st = stack
        self.tl = timeline
        self.args = args
        self.rng = random.Random(args.seed)
        self.lock = threading.Lock()
        self.cv = threading.Condition(self.lock)
        self.queue = []          # heap of (due, seq, job)
        self.seq = 0
        self.busy = 0
        self.stopping = False
        self.records = []        # (t_send, route, status or cause, latency_s, phase)
        # webhooks: event index -> {"acked": t or None, "answers": [...]}
        self.events = {}
        # intents: request id -> {"user", "first": (t, status, phase), "sends": n}
        self.reqs = {}
        self.user_last = {}      # user -> (request id, t answered)
        self.false_dups = []
        self.missed_dups = []
        self.repeats = 0
        self.quotes = {}         # ref -> {"answers": [...]}
        self.next_event = 0
        self.next_quote = 0
        self.users_seen = set()
        self.local = threading.local()

    # -- HTTP
    def conn(self):
        # serve closes a connection that sends no request for --head-timeout
        # (10 s) after its last answer; like undici's keepAliveTimeout, a
        # connection idle for 4 s is not reused, so the race between that
        # close and a new request does not show up as a fault.
        c = getattr(self.local, "c", None)
        if c is not None and time.monotonic() - getattr(self.local, "used", 0) > 4.0:
            c.close()
            c = None
        if c is None:
            c = http.client.HTTPConnection("127.0.0.1", self.st.serve_port, timeout=20)
            self.local.c = c
        return c

    def post(self, route, path, body, headers):
        t0 = time.monotonic()
        phase = self.tl.phase(t0)
        h = {"Content-Type": "application/json"}
        h.update(headers)
        try:
            c = self.conn()
            c.request("POST", path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            status = r.status
            if r.getheader("Connection", "").lower() == "close":
                c.close()
                self.local.c = None
        except (OSError, http.client.HTTPException) as exc:
            self.local.c.close() if getattr(self.local, "c", None) else None
            self.local.c = None
            status, data = cause_of(exc), b""
        self.local.used = time.monotonic()
        lat = self.local.used - t0
        with self.lock:
            self.records.append((t0, route, status, lat, phase))
        return status, data, t0, phase

    # -- jobs
    def push(self, delay, job):
        with self.lock:
            self.seq += 1
            heapq.heappush(self.queue, (time.monotonic() + delay, self.seq, job))
            self.cv.notify()

    def worker(self):
        while True:
            with self.lock:
                while True:
                    if self.stopping and not self.queue:
                        return
                    now = time.monotonic()
                    if self.queue and self.queue[0][0] <= now:
                        _, _, job = heapq.heappop(self.queue)
                        self.busy += 1
                        break
                    self.cv.wait(min(0.2, self.queue[0][0] - now) if self.queue else 0.2)
            try:
                job()
            finally:
                with self.lock:
                    self.busy -= 1
                    self.cv.notify_all()

    def idle(self):
        with self.lock:
            return not self.queue and self.busy == 0

    @staticmethod
    def backoff(attempt):
        return min(8.0, 0.5 * 2 ** attempt)

    # webhook: two concurrent copies, each retried on failure like Stripe;
    # now and then a redelivery of an event already acknowledged.
    def webhook_job(self, g, attempt=0):
        def job():
            payload = json.dumps({"id": f"evt_soak_{g}", "object": "event", "type": "payment_intent.succeeded",
                                  "data": {"object": {"id": f"pi_soak_{g}", "object": "payment_intent"}}})
            t = int(time.time())
            sig = hmac.new(self.st.secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
            status, _, t0, phase = self.post("webhook", "/api/stripe/webhook", payload,
                                             {"Stripe-Signature": f"t={t},v1={sig}"})
            with self.lock:
                ev = self.events[g]
                ev["answers"].append(status)
                if status == 200 and ev["acked"] is None:
                    ev["acked"] = t0
            if status != 200 and attempt < 30:
                self.push(self.backoff(attempt), self.webhook_job(g, attempt + 1))
        return job

    def new_event(self):
        g = self.next_event = self.next_event + 1
        if g > self.args.orders:
            return
        with self.lock:
            self.events[g] = {"acked": None, "answers": []}
        self.push(0, self.webhook_job(g))
        self.push(0, self.webhook_job(g))
        if self.rng.random() < 0.2:
            self.push(self.rng.uniform(2, 20), self.webhook_job(g))

    # payment intent: a user, a request id (new, or the user's last one
    # again), retried with the same id on 503 or a lost connection.
    def intent_job(self, user, rid, attempt=0):
        def job():
            body = json.dumps({"user_id": user, "email": f"{user}@soak.example", "request_id": rid})
            status, _, t0, phase = self.post("intent", "/api/stripe/create-payment-intent", body, {})
            with self.lock:
                r = self.reqs[rid]
                r["sends"] += 1
                if isinstance(status, int):
                    if r["first"] is None and attempt == 0 and r["orig"] is None:
                        r["first"] = (t0, status, phase)
                        if status == 409 and phase == "healthy":
                            self.false_dups.append(rid)
                    if r["orig"] is not None and attempt == 0:
                        # a repeat: was it told it is a duplicate?
                        o_t = r["orig"]
                        if (status not in (409, 429) and t0 - o_t < DEDUP_TTL_S - 2
                                and self.tl.healthy_span(o_t, time.monotonic())):
                            self.missed_dups.append(rid)
                    if status in (201, 409) and attempt == 0 and r["orig"] is None:
                        self.user_last[user] = (rid, t0)
            retry = not isinstance(status, int) or status >= 500
            if retry and attempt < 4:
                self.push(self.backoff(attempt), self.intent_job(user, rid, attempt + 1))
        return job

    def new_intent(self):
        user = f"user_{self.rng.randrange(self.args.users)}"
        self.users_seen.add(user)
        with self.lock:
            last = self.user_last.get(user)
        if last is not None and self.rng.random() < 0.2 and time.monotonic() - last[1] < DEDUP_TTL_S - 3:
            # the same request again (a double click, a client retry)
            rid = last[0]
            with self.lock:
                self.repeats += 1
                self.reqs[f"{rid}#r{self.repeats}"] = None  # for the count only
            key = f"{rid}#r{self.repeats}"
            with self.lock:
                self.reqs[key] = {"user": user, "first": None, "sends": 0, "orig": last[1]}
            self.push(0, self.intent_repeat_job(user, rid, key))
            return
        rid = f"req_{os.urandom(6).hex()}"
        with self.lock:
            self.reqs[rid] = {"user": user, "first": None, "sends": 0, "orig": None}
        self.push(0, self.intent_job(user, rid))

    def intent_repeat_job(self, user, rid, key):
        def job():
            body = json.dumps({"user_id": user, "email": f"{user}@soak.example", "request_id": rid})
            status, _, t0, phase = self.post("intent", "/api/stripe/create-payment-intent", body, {})
            with self.lock:
                r = self.reqs[key]
                r["sends"] += 1
                r["first"] = (t0, status, phase)
                if (isinstance(status, int) and status not in (409, 429) and t0 - r["orig"] < DEDUP_TTL_S - 2
                        and self.tl.healthy_span(r["orig"], time.monotonic())):
                    self.missed_dups.append(rid)
        return job

    # quote e-mail: some sent twice at once (a double click), some names
    # missing; retried on 5xx or a lost connection until answered.
    def quote_job(self, ref, name, attempt=0):
        def job():
            body = json.dumps({"quote_ref": ref, "customer_name": name, "customer_email": f"{ref}@soak.example"})
            status, _, _, _ = self.post("quote", "/api/quotes/email", body, {})
            with self.lock:
                self.quotes[ref]["answers"].append(status)
            if (not isinstance(status, int) or status >= 500) and attempt < 30:
                self.push(self.backoff(attempt), self.quote_job(ref, name, attempt + 1))
        return job

    def new_quote(self):
        self.next_quote += 1
        ref = f"Q{self.next_quote:06d}"
        x = self.rng.random()
        name = None if x < 0.1 else ("  " if x < 0.15 else f"Ada {ref} Lovelace")
        with self.lock:
            self.quotes[ref] = {"answers": [], "name": name}
        self.push(0, self.quote_job(ref, name))
        if self.rng.random() < 0.25:
            self.push(self.rng.choice([0, 0, 1.5]), self.quote_job(ref, name))

    def generate(self):
        """Steady arrivals: rate per second split 40% webhooks, 40% intents,
        20% quotes, until self.until (main moves it past the last fault)."""
        period = 1.0 / self.args.rate
        t = time.monotonic()
        while t < self.until or not self.faults_done.is_set():
            x = self.rng.random()
            if x < 0.4:
                self.new_event()
            elif x < 0.8:
                self.new_intent()
            else:
                self.new_quote()
            t += period
            delay = t - time.monotonic()
            if delay > 0:
                time.sleep(delay)


# ---- faults ----------------------------------------------------------------------------------

class Faults:
    def __init__(self, stack, timeline, args):
        self.st = stack
        self.tl = timeline
        self.args = args
        self.count = {}

    def run(self, kind):
        n = self.count[kind] = self.count.get(kind, 0) + 1
        getattr(self, kind)(n)

    def _down_and_up(self, kind, detail, stop, start):
        e = self.tl.begin(kind, detail)
        stop()
        time.sleep(2)
        start()
        self.tl.end(e)

    def redis_kill9(self, n):
        self._down_and_up("redis_kill9", "kill -9 redis-server, start it again 2 s later",
                          self.st.kill_redis, self.st.start_redis)

    def pg_kill9(self, n):
        self._down_and_up("pg_kill9", "kill -9 the postmaster and its backends, start again 2 s later",
                          self.st.kill9_pg, self.st.start_pg)

    def pg_fast_shutdown(self, n):
        self._down_and_up("pg_fast_shutdown", "pg_ctl stop -m fast under load, start again 2 s later",
                          lambda: self.st.pg_ctl("-m", "fast", "-w", "-t", "60", "stop", check=False),
                          self.st.start_pg)

    def serve_restart(self, n):
        e = self.tl.begin("serve_restart", "SIGTERM to serve mid-load, start it again")
        rc = self.st.stop_serve()
        e["detail"] += f" (exit status {rc})"
        self.st.start_serve()
        self.tl.end(e)

    def pool_exhaustion(self, n):
        e = self.tl.begin("pool_exhaustion", "a session locks orders for 8 s: every webhook's pooled "
                          "connection waits on it, the pool of 8 fills, acquires time out")
        p = subprocess.Popen(["psql", "-h", "127.0.0.1", "-p", str(self.st.pg_port), "-U", "faultline",
                              "-d", "faultline", "-qAtX", "-c",
                              "BEGIN; LOCK TABLE orders IN EXCLUSIVE MODE; SELECT pg_sleep(8); COMMIT"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        p.wait(60)
        self.tl.end(e)

    def _toxic(self, kind, detail, proxy, toxic, seconds, bounce=False):
        e = self.tl.begin(kind, detail)
        self.st.add_toxic(proxy, toxic)
        if bounce:
            self.st.bounce_proxy(proxy)
        time.sleep(seconds)
        self.st.del_toxic(proxy, toxic["name"])
        self.tl.end(e)

    def toxic_latency(self, n):
        e = self.tl.begin("toxic_latency", "latency 300 ms +- 100 on PostgreSQL and 150 ms +- 50 on Redis, 8 s")
        self.st.add_toxic("pg", {"name": "lat", "type": "latency", "attributes": {"latency": 300, "jitter": 100}})
        self.st.add_toxic("redis", {"name": "lat", "type": "latency", "attributes": {"latency": 150, "jitter": 50}})
        time.sleep(8)
        self.st.del_toxic("pg", "lat")
        self.st.del_toxic("redis", "lat")
        self.tl.end(e)

    def toxic_reset_peer(self, n):
        proxy = "pg" if n % 2 else "redis"
        self._toxic("toxic_reset_peer", f"reset_peer on the {proxy} link, 4 s", proxy,
                    {"name": "rst", "type": "reset_peer", "attributes": {"timeout": 0}}, 4)

    def toxic_timeout(self, n):
        proxy = "redis" if n % 2 else "pg"
        self._toxic("toxic_timeout", f"timeout 0 (a silent link) on {proxy}, 5 s", proxy,
                    {"name": "to", "type": "timeout", "attributes": {"timeout": 0}}, 5)

    def toxic_redis_command(self, n):
        if n % 2:
            t = {"name": "rc", "type": "redis_command",
                 "attributes": {"command": "EXEC", "action": "drop_reply", "then": "close"}}
            what = "EXEC applied, its reply dropped and the connection closed"
        else:
            t = {"name": "rc", "type": "redis_command", "attributes": {"command": "SET", "action": "error"}}
            what = "SET answered -ERR injected"
        self._toxic("toxic_redis_command", f"redis_command: {what}, 6 s", "redis", t, 6, bounce=True)

    def toxic_pg_command(self, n):
        if n % 2:
            t = {"name": "pc", "type": "pg_command",
                 "attributes": {"command": "COMMIT", "action": "drop_reply", "then": "close"}}
            what = "COMMIT applied, its reply dropped and the connection closed"
        else:
            t = {"name": "pc", "type": "pg_command",
                 "attributes": {"command": "INSERT", "action": "error", "sqlstate": "40001",
                                "message": "could not serialize access (injected)"}}
            what = "INSERT answered 40001"
        self._toxic("toxic_pg_command", f"pg_command: {what}, 6 s", "pg", t, 6, bounce=True)


# ---- sampling serve --------------------------------------------------------------------------

def sampler(stack, samples, stop, t_start):
    while not stop.wait(1.0):
        with stack.serve_lock:
            p = stack.serve_proc
        if p is None:
            continue
        try:
            with open(f"/proc/{p.pid}/status") as f:
                rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
            fds = len(os.listdir(f"/proc/{p.pid}/fd"))
        except (OSError, AttributeError):
            continue
        samples.append({"t": round(time.monotonic() - t_start, 1), "pid": p.pid, "rss_kib": rss, "fds": fds})


def watchdog(stack, tl, stop, crashes):
    """serve exiting on its own is a crash: recorded, and serve started again."""
    while not stop.wait(0.5):
        with stack.serve_lock:
            p = stack.serve_proc
        if p is not None and p.poll() is not None:
            with stack.serve_lock:
                if stack.serve_proc is not p:
                    continue
                stack.serve_proc = None
            crashes.append({"t": time.monotonic(), "status": p.returncode})
            log(f"serve exited on its own with status {p.returncode}; starting it again")
            e = tl.begin("serve_crash", f"serve exited with status {p.returncode}")
            stack.start_serve()
            tl.end(e)


# ---- judging ---------------------------------------------------------------------------------

def stripe_customers(stack):
    out, after = [], None
    while True:
        c = http.client.HTTPConnection("127.0.0.1", stack.stripe_port, timeout=30)
        q = "/v1/customers?limit=100" + (f"&starting_after={after}" if after else "")
        c.request("GET", q, headers={"Authorization": f"Bearer {STRIPE_KEY}"})
        r = c.getresponse()
        d = json.loads(r.read())
        c.close()
        if r.status != 200:
            raise SetupError(f"fake Stripe customer list: {r.status} {d}")
        out.extend(d["data"])
        if not d.get("has_more") or not d["data"]:
            return out
        after = d["data"][-1]["id"]


def probe_users(load, users):
    """One request per user with a fresh id, after a whole window: 201 wanted."""
    results = {}
    lock = threading.Lock()
    remaining = sorted(users)

    def one(user):
        for attempt in range(8):
            rid = f"probe_{os.urandom(6).hex()}"
            body = json.dumps({"user_id": user, "email": f"{user}@soak.example", "request_id": rid})
            status, data, _, _ = load.post("probe", "/api/stripe/create-payment-intent", body, {})
            if isinstance(status, int) and status < 500:
                break
            time.sleep(1)
        cid = None
        if status == 201:
            try:
                cid = json.loads(data)["customer_id"]
            except (ValueError, KeyError):
                pass
        with lock:
            results[user] = (status, cid)

    def worker():
        while True:
            with lock:
                if not remaining:
                    return
                u = remaining.pop()
            one(u)
    ts = [threading.Thread(target=worker) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return results


def judge(stack, load, probes):
    v = []   # violations: {"contract", "detail", "ids"}

    def bad(contract, detail, ids):
        """A violation, when there are ids to name."""
        if not ids:
            return
        ids = sorted(ids, key=lambda x: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", x)])
        v.append({"contract": contract, "detail": detail, "count": len(ids), "ids": ids[:50]})

    # exactly once, no order paid twice
    rows = stack.psql("SELECT o.order_id, o.payment_intent_id, o.paid_count, "
                      "(SELECT count(*) FROM order_payments p WHERE p.order_id = o.order_id) "
                      "FROM orders o WHERE o.paid_count > 0 OR EXISTS "
                      "(SELECT 1 FROM order_payments p WHERE p.order_id = o.order_id)")
    paid = {}
    for line in rows.splitlines():
        oid, pi, cnt, effects = line.split("|")
        paid[int(pi.rsplit("_", 1)[1])] = (int(cnt), int(effects))
    # Applied: the order's paid_count moved (every variant does that;
    # order_payments is the hardened's own ledger, checked against it).
    applied = {g for g, (cnt, _) in paid.items() if cnt > 0}
    ledger = {int(r.rsplit("_", 1)[1]) for r in stack.psql(
        "SELECT event_id FROM order_payments").split()}
    processed = {int(r.rsplit("_", 1)[1]) for r in stack.psql(
        "SELECT event_id FROM stripe_events WHERE processed_at IS NOT NULL").split()}
    unacked = [f"evt_soak_{g}" for g, e in load.events.items() if e["acked"] is None]
    lost = [f"evt_soak_{g}" for g, e in load.events.items() if e["acked"] is not None and g not in applied]
    twice = [f"evt_soak_{g} (order ord_{g} paid {paid[g][0]} times)" for g in paid if paid[g][0] > 1]
    unprocessed = [f"evt_soak_{g}" for g, e in load.events.items()
                   if e["acked"] is not None and g not in processed]
    stray = [f"evt_soak_{g}" for g in applied | ledger if g not in load.events]
    bad("exactly_once", "events never acknowledged, even after the retries drained", unacked)
    bad("exactly_once", "events acknowledged (200) but not applied: the order's paid_count is 0", lost)
    bad("exactly_once", "orders paid more than once", twice)
    bad("exactly_once", "events acknowledged but not marked processed", unprocessed)
    bad("exactly_once", "effects of events never sent", stray)

    # no lockout
    locked = [f"{u} ({st})" for u, (st, _) in probes.items() if st == 429]
    failed = [f"{u} ({st})" for u, (st, _) in probes.items() if st not in (201, 429)]
    bad("no_lockout", f"users refused 429 by a fresh request a whole window ({RATE_WINDOW_S} s) later", locked)
    bad("no_lockout", "users whose fresh request after the drain was not answered 201", failed)
    keys = [k for k in stack.redis_cli("--scan", "--pattern", "ratelimit:*").split() if k]
    no_ttl = [k for k in keys if stack.redis_cli("PTTL", k).strip() == "-1"]
    bad("no_lockout", "rate-limit keys without a TTL", no_ttl)

    # no false duplicate
    bad("no_false_duplicate", "first sends answered 409 while Redis was healthy", load.false_dups)
    bad("no_false_duplicate", "repeats of an answered request id let through within the "
        "de-duplication window while Redis was healthy", load.missed_dups)

    # no orphan customer
    custs = stripe_customers(stack)
    mapped = {}
    for line in stack.psql("SELECT user_id, customer_id FROM stripe_customers").splitlines():
        u, c = line.split("|")
        mapped[c] = u
    orphans = [f"{c['id']} ({c.get('email')})" for c in custs if c["id"] not in mapped]
    per_email = {}
    for c in custs:
        per_email.setdefault(c.get("email"), []).append(c["id"])
    several = [f"{e}: {', '.join(ids)}" for e, ids in per_email.items() if len(ids) > 1]
    wrong = [f"{u}: answered {cid}" for u, (st, cid) in probes.items()
             if st == 201 and mapped.get(cid) != u]
    bad("no_orphan", "Stripe customers with no stripe_customers row", orphans)
    bad("no_orphan", "users with more than one Stripe customer", several)
    bad("no_orphan", "probes answered a customer that is not the user's row", wrong)

    # e-mail: at most one per quote, and one for every quote answered sent
    with stack.smtp.lock:
        mails = dict(stack.smtp.mails)
    doubled = [f"{r} ({n} mails)" for r, n in mails.items() if n > 1]
    unmailed, unanswered, stray_mail = [], [], []
    for ref, q in load.quotes.items():
        ans = [a for a in q["answers"] if isinstance(a, int)]
        if any(a in (200, 202) for a in ans) and mails.get(ref, 0) == 0:
            unmailed.append(f"{ref} (answers {ans})")
        if not any(a in (200, 202, 422) for a in ans):
            unanswered.append(f"{ref} (answers {q['answers'][-3:]})")
        if ans and all(a == 422 for a in ans) and mails.get(ref, 0):
            stray_mail.append(ref)
    bad("email_once", "quotes mailed more than once", doubled)
    bad("email_once", "quotes answered sent (202 or 200) but never mailed", unmailed)
    bad("email_once", "quotes never answered, even after the retries drained", unanswered)
    bad("email_once", "quotes refused 422 but mailed", stray_mail)
    summary = {
        "events_sent": len(load.events), "events_acked": sum(1 for e in load.events.values() if e["acked"]),
        "orders_paid": sum(1 for g in paid if paid[g][0] >= 1),
        "intent_requests": sum(1 for r in load.reqs.values() if r), "repeats": load.repeats,
        "users": len(probes), "stripe_customers": len(custs), "ratelimit_keys": len(keys),
        "quotes": len(load.quotes), "mails": sum(mails.values()),
    }
    return v, summary


# ---- figures and the report ------------------------------------------------------------------

def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(p / 100 * len(xs)))] * 1000, 1)


def figures(load, tl, t_start, t_faults_end):
    recs = load.records
    by_status, by_cause, routes = {}, {}, {}
    for _, route, st, _, _ in recs:
        rt = routes.setdefault(route, {"sent": 0, "by_status": {}, "errors": {}})
        rt["sent"] += 1
        if isinstance(st, int):
            by_status[str(st)] = by_status.get(str(st), 0) + 1
            rt["by_status"][str(st)] = rt["by_status"].get(str(st), 0) + 1
        else:
            by_cause[st] = by_cause.get(st, 0) + 1
            rt["errors"][st] = rt["errors"].get(st, 0) + 1
    phases = {}
    for ph in ("healthy", "faulted", "recovering"):
        lat = [r[3] for r in recs if r[4] == ph and isinstance(r[2], int) and r[1] != "probe"]
        phases[ph] = {"requests": sum(1 for r in recs if r[4] == ph), "answered": len(lat),
                      "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99)}
    faults = []
    for e in tl.episodes:
        route = RECOVERY_ROUTE.get(e["kind"], "any")
        first = None
        for t0, rt, st, lat, _ in recs:
            if t0 >= e["end"] and (route == "any" or rt == route) and st in SUCCESS.get(rt, ()):
                first = t0 + lat if first is None else min(first, t0 + lat)
        faults.append({"kind": e["kind"], "detail": e["detail"], "start_s": round(e["start"] - t_start, 2),
                       "end_s": round(e["end"] - t_start, 2),
                       "recovery_s": round(first - e["end"], 3) if first is not None else None})
    return {"requests": {"sent": len(recs), "answered_by_status": by_status, "errors_by_cause": by_cause,
                         "by_route": routes}, "latency_by_phase": phases, "faults": faults}


def svg_plot(samples, faults, width=900, height=260):
    if not samples:
        return "<p>No samples.</p>"
    tmax = max(s["t"] for s in samples) or 1
    rmax = max(s["rss_kib"] for s in samples) / 1024 * 1.15
    fmax = max(s["fds"] for s in samples) * 1.15
    x = lambda t: 50 + (width - 100) * t / tmax
    yr = lambda r: height - 30 - (height - 50) * (r / 1024) / rmax
    yf = lambda f: height - 30 - (height - 50) * f / fmax
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">']
    for f in faults:
        x0, x1 = x(f["start_s"]), x(max(f["end_s"], f["start_s"] + tmax / width))
        out.append(f'<rect x="{x0:.1f}" y="20" width="{max(1.0, x1 - x0):.1f}" height="{height - 50}" '
                   f'fill="#f4c7c3" opacity="0.6"><title>{html.escape(f["kind"])}</title></rect>')
    out.append(f'<line x1="50" y1="{height - 30}" x2="{width - 50}" y2="{height - 30}" stroke="#333"/>')
    for line, key, yfun, color in (("rss", "rss_kib", yr, "#1a73e8"), ("fds", "fds", yf, "#188038")):
        pts = " ".join(f"{x(s['t']):.1f},{yfun(s[key]):.1f}" for s in samples)
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{pts}"/>')
    out.append(f'<text x="50" y="14" fill="#1a73e8">RSS of serve, MiB (max {rmax / 1.15:.1f})</text>')
    out.append(f'<text x="330" y="14" fill="#188038">open fds (max {fmax / 1.15:.0f})</text>')
    out.append(f'<text x="600" y="14" fill="#c5221f">shaded: faults</text>')
    for k in range(0, 6):
        t = tmax * k / 5
        out.append(f'<text x="{x(t):.1f}" y="{height - 14}" text-anchor="middle">{t:.0f} s</text>')
    out.append("</svg>")
    return "\n".join(out)


def write_html(path, rep):
    e = html.escape
    v = rep["violations"]
    rows = "".join(f"<tr><td>{e(f['kind'])}</td><td>{f['start_s']}</td><td>{f['end_s']}</td>"
                   f"<td>{'' if f['recovery_s'] is None else f['recovery_s']}</td><td>{e(f['detail'])}</td></tr>"
                   for f in rep["faults"])
    ph = "".join(f"<tr><td>{k}</td><td>{p['requests']}</td><td>{p['answered']}</td><td>{p['p50_ms']}</td>"
                 f"<td>{p['p99_ms']}</td></tr>" for k, p in rep["latency_by_phase"].items())
    st = "".join(f"<tr><td>{e(k)}</td><td>{n}</td></tr>" for k, n in
                 sorted(rep["requests"]["answered_by_status"].items()) + sorted(rep["requests"]["errors_by_cause"].items()))
    vio = "".join(f"<li><b>{e(x['contract'])}</b>: {e(x['detail'])} ({x['count']}): "
                  f"{e(', '.join(x['ids'][:20]))}</li>" for x in v) or "<li>none</li>"
    con = "".join(f"<tr><td>{e(c)}</td><td>{'held' if ok else 'BROKEN'}</td></tr>"
                  for c, ok in rep["contracts"].items())
    s = rep["serve"]
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>faultline soak</title>
<style>body{{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:.5em 0}}td,th{{border:1px solid #ccc;padding:2px 8px;font-size:13px}}
.ok{{color:#188038}}.bad{{color:#c5221f}}</style></head><body>
<h1>faultline soak: <span class="{'ok' if rep['ok'] else 'bad'}">{'every contract held' if rep['ok'] else 'a contract was broken'}</span></h1>
<p>{rep['seconds']} s of load ({rep['rate']} arrivals/s), variant {e(rep['variant'])}, seed {rep['seed']},
{len(rep['faults'])} faults; {rep['requests']['sent']} requests. Started {e(rep['started'])}.</p>
<h2>Contracts</h2><table><tr><th>contract</th><th>verdict</th></tr>{con}</table>
<ul>{vio}</ul>
<h2>serve: RSS and open file descriptors</h2>
{svg_plot(rep['serve']['samples'], rep['faults'])}
<p>RSS {s['rss_kib_first']} KiB at the first sample, {s['rss_kib_last']} at the last, max {s['rss_kib_max']};
after the first minute, growth {s['rss_growth_kib_after_warmup']} KiB; fds max {s['fds_max']}, last {s['fds_last']};
{len(s['exits'])} restarts (exit statuses {e(str([x['status'] for x in s['exits']]))}); crashes {len(s['crashes'])}.</p>
<h2>Latency by phase</h2><table><tr><th>phase</th><th>requests</th><th>answered</th><th>p50 ms</th><th>p99 ms</th></tr>{ph}</table>
<h2>Answers and errors</h2><table>{st}</table>
<h2>Faults</h2><table><tr><th>fault</th><th>start s</th><th>end s</th><th>recovery s</th><th>what</th></tr>{rows}</table>
<h2>State judged</h2><pre>{e(json.dumps(rep['state'], indent=1))}</pre>
</body></html>
"""
    with open(path, "w") as f:
        f.write(doc)


# ---- main ------------------------------------------------------------------------------------

def schedule(kinds, lead, span):
    """Each kind twice (or more when there is room), spread evenly over span."""
    if not kinds:
        return []
    rounds = max(2, int(span // (len(kinds) * 27)))
    order = [k for _ in range(rounds) for k in kinds]
    slot = span / len(order)
    return [(lead + i * slot, k) for i, k in enumerate(order)]


def main():
    global RATE_WINDOW_S
    ap = argparse.ArgumentParser(description="faultline's live soak (docs/soak.md)")
    ap.add_argument("--bin", required=True)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--out", default="build/soak")
    ap.add_argument("--faults", default="all")
    ap.add_argument("--variant", default="hardened")
    ap.add_argument("--rate", type=float, default=40.0, help="arrivals per second")
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=32)
    ap.add_argument("--rate-window", type=int, default=RATE_WINDOW_S,
                    help="serve's rate-limit window in seconds (the probe waits one out)")
    ap.add_argument("--keep", action="store_true", help="keep the servers' directory")
    args = ap.parse_args()
    kinds = FAULT_KINDS if args.faults == "all" else [k for k in args.faults.split(",") if k and k != "none"]
    for k in kinds:
        if k not in FAULT_KINDS:
            print(f"soak.py: unknown fault '{k}' (known: {', '.join(FAULT_KINDS)})", file=sys.stderr)
            return 2
    if args.seconds < 5 or args.rate <= 0 or args.users < 1 or not 2 <= args.rate_window <= 3600:
        print("soak.py: --seconds at least 5, --rate and --users positive, --rate-window 2 to 3600",
              file=sys.stderr)
        return 2
    RATE_WINDOW_S = args.rate_window
    args.orders = int(args.seconds * args.rate * 0.4 * 1.5) + 100
    os.makedirs(args.out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="faultline-soak.")
    os.chmod(tmp, 0o755)
    stack = Stack(args, tmp)
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    try:
        try:
            stack.start()
        except (SetupError, OSError, subprocess.SubprocessError) as exc:
            log(f"setup failed: {exc}")
            return 3
        lead = min(30.0, args.seconds * 0.1)
        tail = min(20.0, args.seconds * 0.1)
        plan = schedule(kinds, lead, args.seconds - lead - tail)
        tl = Timeline(recover_s=5.0)
        load = Load(stack, tl, args)
        faults = Faults(stack, tl, args)
        samples, crashes = [], []
        stop_sampling = threading.Event()
        t_start = time.monotonic()
        threading.Thread(target=sampler, args=(stack, samples, stop_sampling, t_start), daemon=True).start()
        threading.Thread(target=watchdog, args=(stack, tl, stop_sampling, crashes), daemon=True).start()
        workers = [threading.Thread(target=load.worker, daemon=True) for _ in range(args.workers)]
        for w in workers:
            w.start()
        load.until = t_start + args.seconds
        load.faults_done = threading.Event()
        gen = threading.Thread(target=load.generate, daemon=True)
        gen.start()
        log(f"{args.seconds:.0f} s of load at {args.rate}/s, {len(plan)} faults "
            f"({', '.join(kinds) or 'none'}), serve on 127.0.0.1:{stack.serve_port}, servers in {tmp}")
        fault_errors = []
        for at, kind in plan:
            delay = t_start + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            log(f"{time.monotonic() - t_start:6.1f} s  {kind}")
            try:
                faults.run(kind)
            except (SetupError, OSError, subprocess.SubprocessError) as exc:
                fault_errors.append(f"{kind}: {exc}")
                log(f"fault {kind} could not be applied: {exc}")
                for e in tl.episodes:
                    if e["end"] is None:
                        tl.end(e)
        # A fault that ran past the planned end still gets its recovery
        # measured: the load goes on until it is over.
        load.until = max(load.until, time.monotonic() + tl.recover_s)
        load.faults_done.set()
        gen.join()
        t_faults_end = time.monotonic()
        log(f"{t_faults_end - t_start:6.1f} s  load stopped; draining retries")
        drain_end = time.monotonic() + 120
        while not load.idle() and time.monotonic() < drain_end:
            time.sleep(0.2)
        with load.lock:
            # what is still waiting is dropped, so the state judged below
            # does not move under the judge
            pending = len(load.queue) + load.busy
            load.queue.clear()
            load.stopping = True
            load.cv.notify_all()
        drained = pending == 0
        # a whole rate-limit window with no traffic, then every user once more
        time.sleep(RATE_WINDOW_S + 1)
        probes = probe_users(load, load.users_seen)
        stop_sampling.set()
        violations, state = judge(stack, load, probes)
        if not drained:
            violations.append({"contract": "drain", "detail": f"{pending} retries still pending 120 s after "
                               "the load stopped (their requests are listed under their contracts)",
                               "count": pending, "ids": []})
        for c in crashes:
            violations.append({"contract": "serve_alive", "detail": f"serve exited on its own with status "
                               f"{c['status']}", "count": 1, "ids": []})
        for t, rc in stack.serve_exits:
            if rc != 0:
                violations.append({"contract": "serve_alive", "detail": f"serve did not stop cleanly on SIGTERM "
                                   f"(status {rc})", "count": 1, "ids": []})
        fig = figures(load, tl, t_start, t_faults_end)
        rss = [s["rss_kib"] for s in samples]
        warm = [s["rss_kib"] for s in samples if s["t"] >= 60] or rss
        contracts = {c: not any(x["contract"] == c for x in violations)
                     for c in ("exactly_once", "no_lockout", "no_false_duplicate", "no_orphan", "email_once",
                               "serve_alive", "drain")}
        fault_count = {}
        for f in fig["faults"]:
            fault_count[f["kind"]] = fault_count.get(f["kind"], 0) + 1
        rec = [f["recovery_s"] for f in fig["faults"] if f["recovery_s"] is not None]
        rep = {
            "ok": not violations, "seconds": args.seconds, "rate": args.rate, "variant": args.variant,
            "seed": args.seed, "started": started, "machine": os.uname().nodename + " " + os.uname().release,
            "contracts": contracts, "violations": violations, "state": state,
            **fig, "fault_count": fault_count, "fault_errors": fault_errors,
            "recovery_s_max": max(rec) if rec else None,
            "recovery_s_median": round(statistics.median(rec), 3) if rec else None,
            "serve": {"samples": samples, "rss_kib_first": rss[0] if rss else None,
                      "rss_kib_last": rss[-1] if rss else None, "rss_kib_max": max(rss) if rss else None,
                      "rss_growth_kib_after_warmup": (warm[-1] - warm[0]) if warm else None,
                      "fds_max": max((s["fds"] for s in samples), default=None),
                      "fds_last": samples[-1]["fds"] if samples else None,
                      "exits": [{"status": rc} for _, rc in stack.serve_exits],
                      "crashes": [{"status": c["status"]} for c in crashes]},
        }
        with open(os.path.join(args.out, "soak.json"), "w") as f:
            json.dump(rep, f, indent=1)
        write_html(os.path.join(args.out, "soak.html"), rep)
        for x in violations:
            log(f"BROKEN {x['contract']}: {x['detail']} ({x['count']}): {', '.join(x['ids'][:10])}")
        ph = fig["latency_by_phase"]
        log(f"{fig['requests']['sent']} requests; answers {fig['requests']['answered_by_status']}; "
            f"errors {fig['requests']['errors_by_cause']}")
        log("p50/p99 ms: " + ", ".join(f"{k} {p['p50_ms']}/{p['p99_ms']}" for k, p in ph.items()))
        log(f"faults {fault_count}; recovery median {rep['recovery_s_median']} s, max {rep['recovery_s_max']} s; "
            f"serve RSS {rep['serve']['rss_kib_first']} -> {rep['serve']['rss_kib_last']} KiB")
        log(("every contract held" if rep["ok"] else f"{len(violations)} violation(s)") +
            f"; report {args.out}/soak.json, {args.out}/soak.html")
        return 0 if rep["ok"] else 1
    finally:
        stack.stop()
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
