#!/usr/bin/env python3
"""scripts/bench_webhooks.py - signed webhook deliveries per second to
`faultline serve` on real servers (run inside scripts/servers.sh).

  bench_webhooks.py BIN COPIES [SECONDS] [CONNECTIONS] [CLIENT]

Starts the server on 127.0.0.1 port 0, then CONNECTIONS keep-alive clients send
payment_intent.succeeded events signed like Stripe (HMAC-SHA256 of "t.payload"),
each event COPIES times, for SECONDS. Prints the deliveries answered per second
(any status counted; non-2xx reported on stderr).

Without CLIENT the clients are Python threads (http.client, the hmac module),
which need most of a core of their own; with CLIENT (build/bench_webhooks) one
C process on epoll sends the same requests, as pgbench's own C client does for
the transaction it is compared with.
"""
import hashlib, hmac, http.client, json, os, re, subprocess, sys, threading, time

bin_, copies = sys.argv[1], int(sys.argv[2])
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 8.0
conns = int(sys.argv[4]) if len(sys.argv) > 4 else 16
client_bin = sys.argv[5] if len(sys.argv) > 5 else None
secret = "whsec_bench_" + os.urandom(8).hex()
env = dict(os.environ, FAULTLINE_WEBHOOK_SECRET=secret)
srv = subprocess.Popen([bin_, "serve", "--listen", "127.0.0.1:0"], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
try:
    line = srv.stdout.readline()
    m = re.search(r"listening on http://([\d.]+):(\d+)", line)
    if not m:
        sys.exit("serve did not start: " + line)
    host, port = m[1], int(m[2])
    if client_bin:
        r = subprocess.run([client_bin, host, str(port), secret, str(copies), str(seconds), str(conns)],
                           stdout=subprocess.PIPE, text=True)
        if r.returncode != 0:
            sys.exit("the C client failed")
        print(r.stdout.strip())
        sys.exit(0)
    stop = time.monotonic() + seconds
    counts, bad = [0] * conns, [0] * conns
    run_id = os.urandom(4).hex()

    def client(k):
        c = http.client.HTTPConnection(host, port, timeout=10)
        i = 0
        while time.monotonic() < stop:
            evt = f"evt_{run_id}_{k}_{i}"
            payload = json.dumps({"id": evt, "object": "event", "type": "payment_intent.succeeded",
                                  "data": {"object": {"id": f"pi_{run_id}_{k}_{i}",
                                                      "object": "payment_intent"}}})
            for _ in range(copies):
                t = int(time.time())
                sig = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
                c.request("POST", "/api/stripe/webhook", body=payload,
                          headers={"Stripe-Signature": f"t={t},v1={sig}",
                                   "Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                counts[k] += 1
                if r.status // 100 != 2:
                    bad[k] += 1
            i += 1
        c.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(conns)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    if sum(bad):
        print(f"non-2xx answers: {sum(bad)}", file=sys.stderr)
    print(round(sum(counts) / wall, 1))
finally:
    srv.terminate()
    try:
        srv.wait(timeout=15)
    except subprocess.TimeoutExpired:
        srv.kill()
