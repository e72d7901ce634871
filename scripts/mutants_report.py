#!/usr/bin/python3
"""scripts/mutants_report.py - the judging and reporting half of
scripts/mutants.sh: which (scenario, variant, invariant) cells a report.json
violates, how a mutant's run differs from the baseline's, and the summary
files build/mutants.json and build/mutants.md. Not a mutant generator
(scripts/mutate_ops.py) and not a runner.

  mutants_report.py cells REPORT.json          one violated cell a line
  mutants_report.py describe PATCH             id, source, file, line, description (JSON)
  mutants_report.py summary RESULTS_DIR OUT.json OUT.md
"""
import json
import os
import re
import sys


def violated_cells(path):
    """The sorted (scenario, variant, invariant) cells with violations."""
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    cells = set()
    for r in report["results"]:
        for name, inv in r["invariants"].items():
            if inv["violations"] > 0:
                cells.add((r["scenario"], r["variant"], name))
    return sorted(cells)


def describe(path):
    """What a patch says about itself: its `# models:` line, its source
    (`# source:` line, default hand) and where its first change is."""
    models, source, file, line = None, "hand", None, None
    old_line = None
    removed, added = None, None
    with open(path, encoding="utf-8", errors="replace") as f:
        for text in f:
            text = text.rstrip("\n")
            if models is None and text.startswith("# models:"):
                models = text[len("# models:"):].strip()
            elif text.startswith("# source:"):
                source = text[len("# source:"):].strip()
            elif file is None and text.startswith("+++ "):
                name = text[4:].split("\t")[0].strip()
                file = name.split("/", 1)[1] if "/" in name else name
            elif file is not None and line is None:
                m = re.match(r"@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@", text)
                if m:
                    old_line = int(m.group(1))
                elif old_line is not None:
                    if text.startswith(("-", "+")):
                        line = old_line
                    elif text.startswith(" "):
                        old_line += 1
            if file is not None and text.startswith("-") and not text.startswith("---") \
                    and removed is None:
                removed = text[1:].strip()
            elif file is not None and text.startswith("+") and not text.startswith("+++") \
                    and added is None:
                added = text[1:].strip()
    stem = os.path.basename(path)
    stem = stem[:-len(".patch")] if stem.endswith(".patch") else stem
    return {"id": stem, "source": source, "file": file, "line": line,
            "description": models or "",
            "change": f"{removed or ''} => {added or ''}"}


def equivalents():
    """tests/mutants/equivalent.tsv: survivors argued equivalent, keyed by
    the hand mutant's id or, for an operator mutant (whose id moves with the
    code), by FILE|FUNCTION|CHANGE (CHANGE is "old line => new line", both
    stripped); the second column is the argument."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "mutants",
                        "equivalent.tsv")
    found = {}
    with open(path, encoding="utf-8") as f:
        for text in f:
            if text.startswith("#") or not text.strip():
                continue
            key, why = text.rstrip("\n").split("\t", 1)
            found[key] = why
    return found


def equivalence_key(row):
    if row["source"] == "hand":
        return row["id"]
    m = re.search(r" in (\w+)\(\)", row.get("description", ""))
    return f"{row['file']}|{m.group(1) if m else ''}|{row.get('change', '')}"


def summary(results_dir, out_json, out_md):
    rows = []
    for name in sorted(os.listdir(results_dir)):
        if name.endswith(".json"):
            with open(os.path.join(results_dir, name), encoding="utf-8") as f:
                rows.append(json.load(f))
    rows.sort(key=lambda r: (r["source"] != "hand", r["id"]))
    argued = equivalents()
    for r in rows:
        why = argued.get(equivalence_key(r))
        if r["status"] == "survived" and why is not None:
            r["status"] = "equivalent"
            r["killed_by"] = "argued equivalent: " + why
    with open(out_json, "w", encoding="utf-8") as f:
        json.dump({"mutants": rows}, f, indent=2)
        f.write("\n")

    def score(source):
        mine = [r for r in rows if r["source"] == source]
        count = {s: sum(1 for r in mine if r["status"] == s)
                 for s in ("killed", "timeout", "survived", "equivalent", "failed-to-build")}
        built = len(mine) - count["failed-to-build"]
        judged = built - count["equivalent"]
        dead = count["killed"] + count["timeout"]
        pct = 100.0 * dead / judged if judged else 0.0
        raw = 100.0 * dead / built if built else 0.0
        return (f"- {source}: {dead}/{judged} killed ({pct:.1f} %; {raw:.1f} % of all "
                f"{built} that built): {count['killed']} by the suite, {count['timeout']} by "
                f"timeout, {count['survived']} survived, {count['equivalent']} argued "
                f"equivalent (not counted, argument in the table); "
                f"{count['failed-to-build']} failed to build (not counted), {len(mine)} in all")

    with open(out_md, "w", encoding="utf-8") as f:
        f.write("# Mutants of core/ against the standard scenario suite\n\n")
        f.write("Written by `make mutants` (scripts/mutants.sh); see docs/mutants.md.\n\n")
        f.write("## Score\n\n")
        f.write(score("hand") + "\n" + score("operator") + "\n\n")
        f.write("## Mutants\n\n")
        f.write("| id | source | file:line | status | killed by | description |\n")
        f.write("|---|---|---|---|---|---|\n")
        for r in rows:
            desc = r["description"].replace("|", "\\|")
            f.write(f"| {r['id']} | {r['source']} | {r['file']}:{r['line']} | {r['status']} | "
                    f"{(r['killed_by'] or '').replace('|', chr(92) + '|')} | {desc} |\n")


def main(argv):
    if len(argv) == 3 and argv[1] == "cells":
        for cell in violated_cells(argv[2]):
            print("/".join(cell))
        return 0
    if len(argv) == 3 and argv[1] == "describe":
        print(json.dumps(describe(argv[2])))
        return 0
    if len(argv) == 5 and argv[1] == "summary":
        summary(argv[2], argv[3], argv[4])
        return 0
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
