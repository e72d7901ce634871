#!/usr/bin/env python3
# fuzz/make_seeds.py - writes the hand-made seed inputs of each fuzz target
# into fuzz/corpus/<name>/seed-*, in the binary layout its harness reads
# (see the comment at the top of fuzz/fuzz_<name>.c). Run from the top of
# the tree after changing a layout; the scenario seeds are copies of
# scenarios/ and tests/data/scenarios/. Not for the inputs libFuzzer found,
# which scripts/fuzz.sh merges in beside these.
import os
import shutil
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
NOW = 1700000000


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def u16(v):
    return struct.pack(">H", v & 0xFFFF)


def u64(v):
    return struct.pack(">Q", v & 0xFFFFFFFFFFFFFFFF)


# ---- scenario: the standard suite and the loader's own samples ----------
def scenario():
    sources = ["scenarios", "tests/data/scenarios/good", "tests/data/scenarios/bad"]
    for src in sources:
        for f in sorted(os.listdir(src)):
            if f.endswith(".yaml"):
                shutil.copy(os.path.join(src, f),
                            os.path.join(ROOT, "scenario", "seed-" + src.replace("/", "-") + "-" + f))


# ---- stripe_sig: mode, t, now, tolerance, repeat, junk LF payload --------
def sig(mode, junk, payload, t=0, now=0, tol=300, repeat=0):
    return bytes([mode]) + u64(t) + u64(now) + u16(tol) + bytes([repeat]) + junk + b"\n" + payload


def stripe_sig():
    body = b'{"id":"evt_1","type":"payment_intent.succeeded"}'
    write("stripe_sig", "raw-forged", sig(0, b"t=1700000000,v1=" + b"0" * 64, body))
    write("stripe_sig", "raw-empty", sig(0, b"", b""))
    write("stripe_sig", "after-fresh", sig(1, b"v0=deadbeef", body, t=5))
    write("stripe_sig", "after-stale", sig(1, b"", body, t=(-1000) & 0xFFFF))
    write("stripe_sig", "after-edge", sig(1, b"", body, t=300, tol=300))
    write("stripe_sig", "after-blanks", sig(1, b" v1 = x ,\tv0=1\t", body))
    write("stripe_sig", "after-second-t", sig(1, b"t=1", body))
    write("stripe_sig", "after-empty-item", sig(1, b",", body))
    write("stripe_sig", "before-many-v1", sig(2, b",".join(b"v1=%064x" % i for i in range(9)), body))
    write("stripe_sig", "before-seven-v1", sig(2, b",".join(b"v1=%02d" % i for i in range(7)), body))
    write("stripe_sig", "long-header", sig(1, b"v0=" + b"a" * 70, body, repeat=63))
    write("stripe_sig", "huge-t", sig(0x21, b"", body, t=0xFFFFFFFFFFFFFFFF))
    write("stripe_sig", "now-min", sig(0x11, b"", body, t=0, now=1 << 63))
    write("stripe_sig", "big-tolerance", sig(0x41, b"", body, t=40000, tol=0xFFFF))
    write("stripe_sig", "t-20-digits", sig(0, b"t=12345678901234567890,v1=ab", body))
    write("stripe_sig", "t-max", sig(0, b"t=9223372036854775807,v1=ab", body))
    write("stripe_sig", "t-over", sig(0, b"t=9223372036854775808,v1=ab", body))


# ---- webhook: mode, fault, stale, pad, header LF body ---------------------
def wh(mode, body, header=b"", fault=0, stale=0, pad=0):
    return bytes([mode, fault]) + u16(stale) + u16(pad) + header + b"\n" + body


def event(evt="evt_1", typ="payment_intent.succeeded", intent="pi_fuzz", extra=""):
    return ('{"id":"%s","type":"%s","data":{"object":{"id":"%s"%s}}}' % (evt, typ, intent, extra)).encode()


def webhook():
    signed = 0x04
    for v, name in enumerate(["legacy", "seed", "hardened"]):
        write("webhook", "paid-" + name, wh(signed | v, event()))
        write("webhook", "paid-twice-" + name, wh(signed | 0x08 | v, event()))
        write("webhook", "paid-fault-" + name, wh(signed | 0x08 | v, event(), fault=0x03))
        write("webhook", "paid-fault-forever-" + name, wh(signed | v, event(), fault=0x80 | 0x10 | 0x02))
    write("webhook", "other-type", wh(signed | 2, event(typ="charge.refunded")))
    write("webhook", "other-intent", wh(signed | 2, event(intent="pi_other")))
    write("webhook", "unsigned-forged", wh(2, event(), header=b"t=1700000000,v1=" + b"0" * 64))
    write("webhook", "unsigned-none", wh(2, event()))
    write("webhook", "stale", wh(signed | 0x40 | 2, event(), stale=(-400) & 0xFFFF))
    write("webhook", "future", wh(signed | 0x40 | 2, event(), stale=400))
    write("webhook", "many-v1", wh(signed | 2, event(), header=b",".join(b"v1=%064x" % i for i in range(20))))
    write("webhook", "deep-nesting", wh(signed | 2, b"[" * 3000 + b"]" * 3000))
    write("webhook", "deep-object", wh(signed | 2, b'{"a":' * 2100 + b"1" + b"}" * 2100))
    write("webhook", "huge-number", wh(signed | 2, event(extra=',"amount":1e999999,"n":123456789012345678901234567890')))
    write("webhook", "duplicate-id", wh(signed | 2, b'{"id":"evt_1","id":"evt_2","type":"payment_intent.succeeded"}'))
    write("webhook", "not-utf8", wh(signed | 2, event(evt="evt_\xff").replace(b"\xc3\xbf", b"\xff")))
    write("webhook", "nul-in-id", wh(signed | 2, event(evt="evt\\u0000x")))
    write("webhook", "id-256", wh(signed | 2, event(evt="e" * 256)))
    write("webhook", "id-255", wh(signed | 2, event(evt="e" * 255)))
    write("webhook", "type-129", wh(signed | 2, event(typ="t" * 129)))
    write("webhook", "space-in-id", wh(signed | 2, event(evt="evt 1")))
    write("webhook", "truncated", wh(signed | 2, event()[:40]))
    write("webhook", "no-data", wh(signed | 2, b'{"id":"evt_1","type":"payment_intent.succeeded"}'))
    write("webhook", "array-root", wh(signed | 2, b"[1,2,3]"))
    for k in range(3):
        write("webhook", "pad-%d" % k, wh(signed | 0x30 | 2, event(), pad=k))
    write("webhook", "pad-over", wh(signed | 0x30 | 2, event(), pad=3 * 100 + 2))


# ---- quote_email: mode, name_len, ref_len, out_size, log_size, fields ----
def qe(mode, name, email, ref=b"", out=4096, log=160):
    return bytes([mode]) + u16(len(name)) + bytes([len(ref)]) + u16(out) + u16(log) + name + ref + email


def quote_email():
    for v, vname in enumerate(["legacy", "seed", "hardened"]):
        write("quote_email", "valid-" + vname, qe(v, b"Ann Lee", b"ann@example.com"))
        write("quote_email", "crlf-" + vname, qe(v, b"Eve\r\nBcc: attacker@evil.test", b"eve@example.com"))
        write("quote_email", "name-null-" + vname, qe(v | 0x04, b"", b"ann@example.com"))
        write("quote_email", "email-null-" + vname, qe(v | 0x08, b"Ann", b""))
        write("quote_email", "twice-" + vname, qe(v | 0x20, b"Ann Lee", b"ann@example.com"))
        write("quote_email", "mail-error-" + vname, qe(v | 0x60, b"Ann Lee", b"ann@example.com"))
        write("quote_email", "mail-timeout-" + vname, qe(v | 0xE0, b"Ann Lee", b"ann@example.com"))
    h = 2
    write("quote_email", "lf", qe(h, b"Mallory\nX-Injected: yes", b"mal@example.com"))
    write("quote_email", "nul", qe(h, b"Nul\x00Byte", b"nul@example.com"))
    write("quote_email", "unicode", qe(h, "Zo\u00eb \u00c5ngstr\u00f6m".encode(), b"zoe@example.com"))
    write("quote_email", "unicode-spaces", qe(h, "\u00a0\u2003\u3000".encode(), b"dee@example.com"))
    write("quote_email", "nbsp-first-name", qe(h, "Ann\u00a0Lee".encode(), b"ann@example.com"))
    write("quote_email", "long-ascii", qe(h, b"a" * 300, b"ann@example.com"))
    write("quote_email", "name-256", qe(h, b"b" * 256, b"ann@example.com"))
    write("quote_email", "long-unicode", qe(h, ("\u00e9" * 128).encode(), b"ann@example.com"))
    write("quote_email", "long-unicode-small-buffer", qe(h, ("\u00e9\u4e2d" * 40).encode(), b"a@b.cd", out=40, log=7))
    write("quote_email", "quotes-backslash", qe(h, b'Ann "The" \\ Lee', b"ann@example.com"))
    write("quote_email", "bad-utf8", qe(h, b"Jos\xe9", b"jose@example.com"))
    write("quote_email", "overlong", qe(h, b"\xc0\xaf", b"x@example.com"))
    write("quote_email", "surrogate", qe(h, b"\xed\xa0\x80", b"x@example.com"))
    write("quote_email", "c1-control", qe(h, "a\u0085b".encode(), b"x@example.com"))
    write("quote_email", "del", qe(h, b"a\x7fb", b"x@example.com"))
    for i, addr in enumerate([b"a@@b.cd", b"a@b", b".a@b.cd", b"a..b@c.de", b"a@-b.cd", b"a@b-.cd",
                              b"a" * 65 + b"@b.cd", b"a@" + b"l" * 64 + b".cd", b"a@" + b"l." * 130 + b"cd",
                              b"ann@example.com\r\nBcc: x@y.z", b"ann@exam ple.com", b"<ann@example.com>",
                              "\u00e9@example.com".encode(), b"ann@example.com\x00", b"   ", b""]):
        write("quote_email", "bad-address-%02d" % i, qe(h, b"Ann", addr))
    write("quote_email", "ref-crlf", qe(h | 0x10, b"Ann", b"ann@example.com", ref=b"Q-1\r\nBcc: x"))
    write("quote_email", "ref-long", qe(h | 0x10, b"Ann", b"ann@example.com", ref=b"Q" * 65))
    write("quote_email", "ref-crlf-legacy", qe(0x10, b"Ann", b"ann@example.com", ref=b"Q-1\r\nBcc: x"))
    write("quote_email", "seed-blank", qe(1, b" \t\r\n", b"ann@example.com"))
    write("quote_email", "seed-overlong-field", qe(1, b"n" * 1500, b"ann@example.com"))


# ---- resp_wire: mode, seed, run, at, stream ------------------------------
def resp(mode, stream, seed=1, run=0, at=0):
    return bytes([mode, seed]) + u16(run) + u16(at) + stream


def bulk(s):
    return b"$%d\r\n%s\r\n" % (len(s), s)


def cmd(*args):
    return b"*%d\r\n" % len(args) + b"".join(bulk(a) for a in args)


def resp_wire():
    req, rep = 0, 1
    write("resp_wire", "set", resp(req, cmd(b"SET", b"k", b"v")))
    write("resp_wire", "pipeline", resp(req, cmd(b"MULTI") + cmd(b"INCR", b"k") + cmd(b"PEXPIRE", b"k", b"60000", b"NX") + cmd(b"EXEC")))
    write("resp_wire", "inline", resp(req, b"PING\r\n  'get' k\n\r\n\"set\" a b\n"))
    write("resp_wire", "empty-commands", resp(req, b"*0\r\n*-1\r\n\n"))
    write("resp_wire", "partial", resp(req, b"*2\r\n$3\r\nGE", seed=7))
    write("resp_wire", "no-dollar", resp(req, b"*2\r\nX"))
    write("resp_wire", "too-many-args", resp(req, b"*1048577\r\n"))
    write("resp_wire", "long-name", resp(req, cmd(b"a" * 40, b"x")))
    write("resp_wire", "name-33", resp(req, cmd(b"b" * 33)))
    write("resp_wire", "huge-bulk", resp(req | 0x06, b"*1\r\n$536870912\r\n", run=0x1234, at=17))
    write("resp_wire", "bulk-over", resp(req, b"*1\r\n$536870913\r\n"))
    write("resp_wire", "inline-at-limit", resp(req | 0x06, b"GET\r\n", run=((120 << 1) | 1), at=0))
    write("resp_wire", "digits-20", resp(req, b"*12345678901234567890\r\n"))
    write("resp_wire", "unbalanced-quote", resp(req, b"'get k\n"))
    for i, r in enumerate([b"+OK\r\n", b"-ERR injected\r\n", b":1\r\n", bulk(b"foo"), b"$-1\r\n", b"*-1\r\n",
                           b"*2\r\n$1\r\na\r\n:1\r\n", b"%1\r\n+a\r\n:1\r\n", b"|1\r\n+ttl\r\n:3\r\n+OK\r\n",
                           b">2\r\n+message\r\n+x\r\n", b"_\r\n", b",1.5\r\n", b"#t\r\n", b"(123\r\n",
                           b"!5\r\nerror\r\n", b"=7\r\ntxt:abc\r\n", b"~1\r\n+a\r\n", b"*1\r\n" * 40 + b":1\r\n",
                           b"|-1\r\n", b"+OK\n", b"?\r\n", b"*0\r\n+OK\r\n", b"%-1\r\n"]):
        write("resp_wire", "reply-%02d" % i, resp(rep, r, seed=i))


# ---- pg_wire: mode, seed, run, at, cap, stream ---------------------------
def pgmsg(t, body):
    return t + struct.pack(">I", len(body) + 4) + body


def startup(params=b"user\x00u\x00database\x00d\x00\x00"):
    return struct.pack(">II", len(params) + 8, 196608) + params


def pg(mode, stream, seed=1, run=0, at=0, cap=512):
    return bytes([mode, seed]) + u16(run) + u16(at) + u16(cap) + stream


def pg_wire():
    fe, be, after = 0, 1, 2
    write("pg_wire", "startup", pg(fe, startup() + pgmsg(b"Q", b"SELECT 1\x00")))
    write("pg_wire", "ssl-then-startup", pg(fe, struct.pack(">II", 8, 80877103) + startup()))
    write("pg_wire", "gssenc", pg(fe, struct.pack(">II", 8, 80877104)))
    write("pg_wire", "cancel", pg(fe, struct.pack(">IIII", 16, 80877102, 42, 7)))
    write("pg_wire", "bad-version", pg(fe, struct.pack(">II", 8, 2 << 16)))
    write("pg_wire", "startup-too-long", pg(fe, struct.pack(">II", 10001, 196608)))
    write("pg_wire", "query-comments", pg(after, pgmsg(b"Q", b"/* c */ -- x\n (insert into t values (1))\x00")))
    batch = (pgmsg(b"P", b"s1\x00UPDATE t SET x = $1\x00\x00\x00") +
             pgmsg(b"B", b"\x00s1\x00\x00\x00\x00\x01\x00\x00\x00\x011\x00\x00") +
             pgmsg(b"D", b"P\x00") + pgmsg(b"E", b"\x00\x00\x00\x00\x00") + pgmsg(b"S", b""))
    write("pg_wire", "extended", pg(after, batch + pgmsg(b"C", b"Ss1\x00") + pgmsg(b"S", b"")))
    write("pg_wire", "unnamed", pg(after, pgmsg(b"P", b"\x00begin\x00\x00\x00") + pgmsg(b"B", b"\x00\x00\x00\x00\x00\x00\x00\x00") +
                                   pgmsg(b"E", b"\x00\x00\x00\x00\x00") + pgmsg(b"S", b"")))
    write("pg_wire", "long-stmt-name", pg(after, pgmsg(b"P", b"n" * 70 + b"\x00select 1\x00\x00\x00") + pgmsg(b"S", b"")))
    write("pg_wire", "many-stmts", pg(after, b"".join(pgmsg(b"P", b"s%d\x00select %d\x00\x00\x00" % (i, i)) for i in range(40)) + pgmsg(b"S", b"")))
    write("pg_wire", "terminate-copy", pg(after, pgmsg(b"X", b"") + pgmsg(b"d", b"1\t2\n") + pgmsg(b"c", b"") + pgmsg(b"F", b"\x00\x00\x00\x01")))
    write("pg_wire", "len-below-4", pg(after, b"Q\x00\x00\x00\x03"))
    write("pg_wire", "len-huge", pg(after, b"Q\x7f\xff\xff\xff"))
    # A Bind whose body (about 266 kB, the zero run) outgrows PG_WIRE_HOLD_MAX.
    held = b"B" + struct.pack(">I", 0x41004)
    write("pg_wire", "batch-held", pg(after | 0x04, held, run=0x4100, at=len(held)))
    parse = pgmsg(b"P", b"\x00select 1\x00\x00\x00")
    write("pg_wire", "parse-then-bind-long", pg(after | 0x04, parse + held + pgmsg(b"S", b""), run=0x4100,
                                                at=len(parse) + len(held)))
    for i, m in enumerate([pgmsg(b"R", b"\x00\x00\x00\x00"), pgmsg(b"S", b"a\x00b\x00"), pgmsg(b"K", b"\x00" * 8),
                           pgmsg(b"Z", b"I"), pgmsg(b"T", b"\x00\x01x\x00" + b"\x00" * 18), pgmsg(b"D", b"\x00\x01\x00\x00\x00\x011"),
                           pgmsg(b"C", b"SELECT 1\x00"), pgmsg(b"E", b"SERROR\x00C40001\x00Mx\x00\x00"), pgmsg(b"Z", b"T"),
                           pgmsg(b"Z", b""), b"Z\x00\x00"]):
        write("pg_wire", "backend-%02d" % i, pg(be, m, seed=i, cap=i * 50))


def main():
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    targets = {"scenario": scenario, "stripe_sig": stripe_sig, "webhook": webhook,
               "quote_email": quote_email, "resp_wire": resp_wire, "pg_wire": pg_wire}
    for name in sys.argv[1:] or targets:
        os.makedirs(os.path.join(ROOT, name), exist_ok=True)
        targets[name]()


if __name__ == "__main__":
    main()
