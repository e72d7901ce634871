#!/usr/bin/python3
"""scripts/mutate_ops.py - operator mutants of the seed and hardened code in
core/, found through libclang's AST (Debian's python3-clang), never by
pattern matching on text. Writes one unified-diff patch per mutant, the
same format as the hand-written catalogue in tests/mutants/, for
scripts/mutants.sh to run. Not a runner and not a judge.

  mutate_ops.py [--max N] [--list] --out DIR COREDIR

Operators, one mutant per site:
  rel    a relational operator flipped: < <=, <= <, > >=, >= >, == !=, != ==
  logic  && and || swapped (operands parenthesised: the tree keeps its shape)
  const  an integer literal n written n+1 (an off-by-one constant)
  drop   a call statement replaced by (void)0
  neg    an if condition negated (the same as swapping its branches)

Scope: the functions of the five fixes, the signature check and the e-mail
checks (FILES), except those that are not behavioural (SKIP_FUNCS: create,
destroy, names for logs, the signer the simulator uses, OpenSSL's key cache)
and except legacy code: the body of `if (... == VARIANT_LEGACY)` and the
statements under a `case` label in LEGACY_LABELS. Lines holding an ASSERT
and calls to core_log are left alone (assertions are not behaviour to
mutate, and no invariant reads the log). When there are more sites than
--max, every k-th candidate in source order is kept, k = ceil(sites / max):
the same tree always gives the same mutants.
"""
import argparse
import difflib
import math
import os
import sys

try:
    import clang.cindex as ci
except ImportError:
    sys.exit("mutate_ops: needs libclang's Python bindings: apt-get install python3-clang libclang-dev")

FILES = ["ratelimit.c", "quote_email.c", "email_check.c", "webhook.c", "stripe_sig.c",
         "dedup.c", "customer.c"]
SKIP_FUNCS = {
    "ratelimit_destroy", "webhook_destroy", "dedup_destroy", "customer_destroy",
    "quote_email_destroy", "quote_email_create", "webhook_create", "customer_create",
    "quote_email_status_name", "email_check_status_name", "stripe_sig_status_name",
    "webhook_step_name", "ratelimit_reason", "dedup_reason", "customer_why",
    "webhook_skip_duplicate", "email_check_escape", "stripe_sig_sign", "stripe_sig_ctx",
}
LEGACY_LABELS = {"VARIANT_LEGACY", "WEBHOOK_STEP_UPSERT", "WEBHOOK_STEP_SELECT"}
SKIP_CALLS = {"core_log"}
ALLOC_CALLS = {"calloc", "malloc"}
REL_FLIP = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "=="}
LOGIC_FLIP = {"&&": "||", "||": "&&"}
K = ci.CursorKind


class Site:
    def __init__(self, path, start, end, new, kind, func, what):
        self.path, self.start, self.end, self.new = path, start, end, new
        self.kind, self.func, self.what = kind, func, what


def tokens_text(cursor):
    return " ".join(t.spelling for t in cursor.get_tokens())


def in_file(cursor, path):
    f = cursor.extent.start.file
    return f is not None and os.path.realpath(f.name) == path


class Collector:
    def __init__(self, path, src):
        self.path = path
        self.src = src
        self.sites = []
        self.legacy = []  # (start, end) offsets of legacy code

    def text(self, start, end):
        return self.src[start:end].decode("utf-8", "replace")

    def spelled_here(self, cursor, expect):
        """True when the cursor's extent starts, in this file and outside
        any macro, with the text expect."""
        if not in_file(cursor, self.path):
            return False
        s = cursor.extent.start.offset
        return self.text(s, s + len(expect)) == expect

    def skipped(self, offset):
        if any(a <= offset < b for a, b in self.legacy):
            return True
        line_start = self.src.rfind(b"\n", 0, offset) + 1
        line_end = self.src.find(b"\n", offset)
        line = self.src[line_start:line_end].decode("utf-8", "replace")
        return "ASSERT" in line

    def add(self, start, end, new, kind, func, what):
        if not self.skipped(start):
            self.sites.append(Site(self.path, start, end, new, kind, func, what))

    def mark_legacy(self, node):
        if node.kind == K.IF_STMT:
            kids = list(node.get_children())
            cond = tokens_text(kids[0])
            if cond.endswith("== VARIANT_LEGACY") and "&&" not in cond and "||" not in cond:
                self.legacy.append((kids[1].extent.start.offset, kids[1].extent.end.offset))
        if node.kind == K.COMPOUND_STMT:
            kids = list(node.get_children())
            for i, kid in enumerate(kids):
                if kid.kind != K.CASE_STMT:
                    continue
                label = list(kid.get_children())[0]
                if tokens_text(label) not in LEGACY_LABELS:
                    continue
                end = node.extent.end.offset
                for later in kids[i + 1:]:
                    if later.kind in (K.CASE_STMT, K.DEFAULT_STMT):
                        end = later.extent.start.offset
                        break
                self.legacy.append((kid.extent.start.offset, end))
        for kid in node.get_children():
            self.mark_legacy(kid)

    def visit(self, node, parent, func):
        kind = node.kind
        if kind == K.BINARY_OPERATOR and in_file(node, self.path):
            kids = list(node.get_children())
            if len(kids) == 2:
                for t in node.get_tokens():
                    if t.extent.start.offset >= kids[0].extent.end.offset:
                        op = t.spelling
                        s = t.extent.start.offset
                        if self.text(s, s + len(op)) == op:
                            if op in REL_FLIP:
                                self.add(s, s + len(op), REL_FLIP[op], "rel", func,
                                         f"`{op}` -> `{REL_FLIP[op]}`")
                            elif op in LOGIC_FLIP:
                                # Parenthesised, so the tree keeps its shape:
                                # `a || b && c` flipped is `a || ((b) || (c))`.
                                a, b = node.extent.start.offset, node.extent.end.offset
                                lhs = self.text(a, kids[0].extent.end.offset)
                                rhs = self.text(kids[1].extent.start.offset, b)
                                self.add(a, b, f"(({lhs}) {LOGIC_FLIP[op]} ({rhs}))", "logic",
                                         func, f"`{op}` -> `{LOGIC_FLIP[op]}`")
                        break
        elif kind == K.INTEGER_LITERAL and in_file(node, self.path):
            toks = list(node.get_tokens())
            if len(toks) == 1:
                lit = toks[0].spelling
                digits = lit.rstrip("uUlL")
                suffix = lit[len(digits):]
                if digits.isdigit() and self.spelled_here(node, lit):
                    s = node.extent.start.offset
                    new = f"{int(digits) + 1}{suffix}"
                    self.add(s, s + len(lit), new, "const", func, f"`{lit}` -> `{new}`")
        elif kind == K.CALL_EXPR and node.spelling in ALLOC_CALLS:
            return  # an allocation's size is not behaviour
        if kind == K.CALL_EXPR and parent is not None and in_file(node, self.path):
            as_statement = parent.kind == K.COMPOUND_STMT or (
                parent.kind == K.IF_STMT and list(parent.get_children())[0] != node)
            toks = [t.spelling for t in node.get_tokens()]
            callee = "".join(toks[:toks.index("(")]) if "(" in toks else ""
            if as_statement and callee and node.spelling not in SKIP_CALLS and \
                    self.spelled_here(node, toks[0]):
                self.add(node.extent.start.offset, node.extent.end.offset, "(void)0", "drop",
                         func, f"drop the call `{callee}(...)`")
        elif kind == K.IF_STMT and in_file(node, self.path):
            cond = list(node.get_children())[0]
            s, e = cond.extent.start.offset, cond.extent.end.offset
            first = next(iter(cond.get_tokens()), None)
            if first is not None and self.spelled_here(cond, first.spelling):
                text = self.text(s, e)
                self.add(s, e, f"!({text})", "neg", func,
                         f"negate `if ({' '.join(text.split())})`")
        for kid in node.get_children():
            self.visit(kid, node, func)


def collect(core_dir):
    index = ci.Index.create()
    sites = []
    for name in FILES:
        path = os.path.realpath(os.path.join(core_dir, name))
        with open(path, "rb") as f:
            src = f.read()
        root = os.path.dirname(os.path.realpath(core_dir))
        tu = index.parse(path, args=["-std=c11", "-D_GNU_SOURCE", "-I" + root])
        errors = [d for d in tu.diagnostics if d.severity >= ci.Diagnostic.Error]
        if errors:
            sys.exit(f"mutate_ops: {name} does not parse: {errors[0]}")
        col = Collector(path, src)
        funcs = [c for c in tu.cursor.get_children()
                 if c.kind == K.FUNCTION_DECL and c.is_definition() and in_file(c, path)]
        for fn in funcs:
            col.mark_legacy(fn)
        for fn in funcs:
            if fn.spelling not in SKIP_FUNCS:
                col.visit(fn, None, fn.spelling)
        seen = set()
        for site in sorted(col.sites, key=lambda x: (x.start, x.end, x.kind)):
            if (site.start, site.end, site.kind) not in seen:
                seen.add((site.start, site.end, site.kind))
                sites.append(site)
    return sites


def patch_text(site, core_dir):
    with open(site.path, "rb") as f:
        src = f.read()
    new = src[:site.start] + site.new.encode() + src[site.end:]
    rel = "core/" + os.path.basename(site.path)
    line = src.count(b"\n", 0, site.start) + 1
    diff = difflib.unified_diff(src.decode().splitlines(True), new.decode().splitlines(True),
                                "a/" + rel, "b/" + rel, n=3)
    head = (f"# models: operator {site.kind}: {site.what} in {site.func}() "
            f"({rel}:{line})\n# source: operator\n")
    return head + "".join(diff)


def main():
    ap = argparse.ArgumentParser(description="operator mutants of core/ as patches")
    ap.add_argument("--max", type=int, default=150, help="cap on mutants (default 150)")
    ap.add_argument("--out", help="directory for the patches")
    ap.add_argument("--list", action="store_true", help="print the chosen mutants only")
    ap.add_argument("core", help="the core/ directory")
    a = ap.parse_args()
    sites = collect(a.core)
    stride = max(1, math.ceil(len(sites) / a.max)) if a.max > 0 else len(sites) + 1
    chosen = sites[::stride][:max(a.max, 0)]
    print(f"mutate_ops: {len(sites)} sites, every {stride}th kept: {len(chosen)} mutants",
          file=sys.stderr)
    if a.out:
        os.makedirs(a.out, exist_ok=True)
    for i, site in enumerate(chosen, 1):
        text = patch_text(site, a.core)
        stem = os.path.basename(site.path)[:-2].replace("_", "-")
        if a.list:
            print(f"op{i:03d}-{stem}-{site.kind}: {text.splitlines()[0][2:]}")
        if a.out:
            with open(os.path.join(a.out, f"op{i:03d}-{stem}-{site.kind}.patch"), "w") as f:
                f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
