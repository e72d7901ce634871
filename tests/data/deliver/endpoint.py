#!/usr/bin/env python3
# tests/data/deliver/endpoint.py - a webhook endpoint for `faultline deliver`
# tests: checks Stripe-Signature (tolerance 300 s) and remembers event ids.
#   endpoint.py PORTFILE SECRET MODE
# MODE good: 200 for a valid event, 400 for a bad or stale signature.
# MODE dup500: 500 for a duplicate of an event already applied.
# MODE nosig: accepts every signature.
import hashlib, hmac, http.server, sys, threading, time

portfile, secret, mode = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
seen = set()
lock = threading.Lock()

def valid(header, body):
    items = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(items.get("t", ""))
    except ValueError:
        return False
    want = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    sigs = [v for k, v in (p.split("=", 1) for p in header.split(",") if "=" in p) if k == "v1"]
    return any(hmac.compare_digest(want, s) for s in sigs) and abs(time.time() - t) <= 300

class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if mode != "nosig" and not valid(self.headers.get("Stripe-Signature", ""), body):
            return self.answer(400)
        import json
        eid = json.loads(body)["id"]
        with lock:
            dup = eid in seen
            seen.add(eid)
        self.answer(500 if dup and mode == "dup500" else 200)
    def answer(self, code):
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
