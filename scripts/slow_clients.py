#!/usr/bin/env python3
"""scripts/slow_clients.py - hostile HTTP clients against a faultline server on
loopback, bounded in count and time. Two checks:

  drip URL --conns N --deadline S [--path P] [--body]   N connections drip a
      request head one header line at a time (--body: send a whole head
      announcing a 4 KiB body, then drip the body a byte at a time); meanwhile
      valid requests (POST P) must be answered (any status but 503) within
      1 s, and every dripping connection must be closed by the server by the
      deadline (plus slack).
  cap URL --cap N [--path P]   N+extra keep-alive connections each complete
      one request; a request on one more connection must get 503 and a close.

Exit 0 held, 1 violated (each failure printed), 2 usage."""
import argparse
import socket
import sys
import time
from urllib.parse import urlparse


def addr_of(url):
    u = urlparse(url)
    if u.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("slow_clients: loopback only, not %s" % u.hostname)
    return (u.hostname, u.port)


def request_bytes(path, body=b"{}", keep=True):
    return (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n"
            + (b"" if keep else b"Connection: close\r\n")
            + b"Content-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


def read_status(sock, timeout):
    """The status of one response, or None; reads until the head is in."""
    sock.settimeout(timeout)
    data = b""
    end = time.monotonic() + timeout
    while b"\r\n\r\n" not in data and time.monotonic() < end:
        try:
            chunk = sock.recv(4096)
        except (socket.timeout, OSError):
            break
        if not chunk:
            break
        data += chunk
    if not data.startswith(b"HTTP/1."):
        return None, data
    return int(data.split(b" ", 2)[1]), data


def is_closed(sock):
    """True when the server closed (EOF or reset), without blocking."""
    sock.setblocking(False)
    try:
        d = sock.recv(65536)
        return d == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.setblocking(True)


def valid_request(addr, path, failures, label):
    t0 = time.monotonic()
    try:
        s = socket.create_connection(addr, timeout=1.0)
        s.sendall(request_bytes(path, keep=False))
        st, _ = read_status(s, 1.0)
        s.close()
    except OSError as e:
        st = None
        failures.append("%s: %s" % (label, e))
        return
    dt = time.monotonic() - t0
    if st is None or st == 503 or dt > 1.0:
        failures.append("%s: status %s after %.3f s (want an answer, not 503, within 1 s)"
                        % (label, st, dt))
    return dt


def cmd_drip(a):
    addr = addr_of(a.url)
    failures = []
    socks = []
    t_open = time.monotonic()
    for i in range(a.conns):
        try:
            s = socket.create_connection(addr, timeout=2.0)
            if a.body:
                s.sendall(b"POST " + a.path.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Type: application/json\r\n"
                          b"Content-Length: 4096\r\n\r\n{")
            else:
                s.sendall(b"POST " + a.path.encode() + b" HTTP/1.1\r\n")
            socks.append(s)
        except OSError as e:
            failures.append("dripping connection %d: %s" % (i, e))
            break
    t_last = time.monotonic()
    print("opened %d dripping connections in %.2f s" % (len(socks), t_last - t_open))
    # Drip while checking valid requests, until the deadline of the last
    # connection opened plus slack.
    slack = max(1.0, a.deadline * 0.5)
    end = t_last + a.deadline + slack
    closed_at = {}
    worst = 0.0
    n_valid = 0
    k = 0
    while time.monotonic() < end:
        dt = valid_request(addr, a.path, failures, "valid request %d" % n_valid)
        n_valid += 1
        worst = max(worst, dt or 0.0)
        for i, s in enumerate(socks):
            if i in closed_at:
                continue
            if is_closed(s):
                closed_at[i] = time.monotonic() - t_open
                continue
            try:
                s.sendall(b" " if a.body else b"X-Drip-%d: %d\r\n" % (k, i))
            except OSError:
                closed_at[i] = time.monotonic() - t_open
        k += 1
        time.sleep(min(0.2, a.deadline / 5))
    still = [i for i in range(len(socks)) if i not in closed_at and not is_closed(socks[i])]
    if still:
        failures.append("%d dripping connection(s) still open %.1f s after the %.1f s deadline"
                        % (len(still), slack, a.deadline))
    early = [t for t in closed_at.values() if t < (t_last - t_open) + a.deadline * 0.5]
    print("valid requests: %d, slowest %.3f s; dripping closed: %d of %d (%d evicted before "
          "half the deadline), last at %.2f s" % (n_valid, worst, len(closed_at), len(socks),
          len(early), max(closed_at.values()) if closed_at else -1))
    for s in socks:
        s.close()
    return failures


def cmd_cap(a):
    addr = addr_of(a.url)
    failures = []
    socks = []
    for i in range(a.cap + a.extra):
        try:
            s = socket.create_connection(addr, timeout=2.0)
            s.sendall(request_bytes(a.path))
            st, _ = read_status(s, 5.0)
        except OSError as e:
            failures.append("keep-alive connection %d: %s" % (i, e))
            break
        socks.append((s, st))
    statuses = {}
    for s, st in socks:
        statuses[st] = statuses.get(st, 0) + 1
    over = [st for _, st in socks[a.cap:]]
    under = [st for _, st in socks[:a.cap]]
    if any(st == 503 for st in under):
        failures.append("503 within the cap: %s" % statuses)
    if any(st != 503 for st in over):
        failures.append("connections past the cap of %d not all answered 503: %s"
                        % (a.cap, over))
    # Past the cap, the server closes after its 503.
    time.sleep(0.3)
    open_over = sum(1 for s, _ in socks[a.cap:] if not is_closed(s))
    if open_over:
        failures.append("%d connection(s) answered 503 left open" % open_over)
    open_under = sum(1 for s, _ in socks[:a.cap] if is_closed(s))
    if open_under:
        failures.append("%d keep-alive connection(s) within the cap closed" % open_under)
    print("statuses: %s" % statuses)
    for s, _ in socks:
        s.close()
    # With the connections gone, a request is served again.
    time.sleep(0.3)
    valid_request(addr, a.path, failures, "request after the others left")
    return failures


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("drip")
    d.add_argument("url")
    d.add_argument("--conns", type=int, required=True)
    d.add_argument("--deadline", type=float, required=True)
    d.add_argument("--path", default="/api/quotes/email")
    d.add_argument("--body", action="store_true")
    c = sub.add_parser("cap")
    c.add_argument("url")
    c.add_argument("--cap", type=int, required=True)
    c.add_argument("--extra", type=int, default=4)
    c.add_argument("--path", default="/api/quotes/email")
    a = p.parse_args()
    if not (0 < getattr(a, "conns", 1) <= 2048 and 0 < getattr(a, "cap", 1) <= 2048):
        sys.exit("slow_clients: at most 2048 connections")
    failures = cmd_drip(a) if a.cmd == "drip" else cmd_cap(a)
    for f in failures[:20]:
        print("FAIL: " + f)
    if len(failures) > 20:
        print("... and %d more" % (len(failures) - 20))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
