#!/usr/bin/env bash
# scripts/report_png.sh - docs/report.png, the picture in the README: the
# report.html of the standard suite (faultline matrix scenarios/) as headless
# Chromium shows it, 1280 pixels wide. The PNG carries a tEXt chunk
# "faultline-suite" naming what it shows (the scenario files' digest, results,
# seeds, verdict), which tests/cli/readme.sh compares with a real run, so a
# changed suite with an old picture fails make test.
#   scripts/report_png.sh [OUT.png]   default docs/report.png; FAULTLINE: binary
#   scripts/report_png.sh --stamp     print the stamp of the current suite only
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${FAULTLINE:-build/faultline}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin" matrix -q --report "$work/report" scenarios/ >"$work/matrix.out" 2>&1 ||
	{ echo "report_png: the standard suite did not pass:" >&2; tail -5 "$work/matrix.out" >&2; exit 1; }
stamp=$(python3 - "$work/report/report.json" scenarios/*.yaml <<'PY'
import hashlib, json, sys
s = json.load(open(sys.argv[1]))["summary"]
h = hashlib.sha256()
for path in sorted(sys.argv[2:]):
    h.update(path.encode() + b"\0" + open(path, "rb").read() + b"\0")
print("scenarios=%s results=%d seeds=%d verdict=%s" % (h.hexdigest()[:16], s["results"],
      s["seeds_run"], s["verdict"]))
PY
)
if [ "${1:-}" = --stamp ]; then
	echo "$stamp"
	exit 0
fi
out=${1:-docs/report.png}

"$root/scripts/deps.sh" live >&2
browser=$(command -v chromium)
timeout 90 "$browser" --headless --no-sandbox --disable-gpu --disable-quic \
	--no-first-run --disable-background-networking --disable-component-update \
	--disable-sync --hide-scrollbars --user-data-dir="$work/profile" \
	--window-size=1280,2000 --screenshot="$work/shot.png" \
	"file://$work/report/report.html" >/dev/null 2>"$work/chromium.log" ||
	{ echo "report_png: chromium failed:" >&2; tail -5 "$work/chromium.log" >&2; exit 1; }

# The stamp goes in a tEXt chunk just before IEND (PNG: length, type, data, CRC).
python3 - "$work/shot.png" "$out" "$stamp" <<'PY'
import struct, sys, zlib
src, dst, stamp = sys.argv[1], sys.argv[2], sys.argv[3]
png = open(src, "rb").read()
assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
assert len(png) > 20000, "the screenshot is nearly empty"
iend = png.rindex(b"IEND") - 4
data = b"faultline-suite\0" + stamp.encode()
chunk = struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data))
open(dst, "wb").write(png[:iend] + chunk + png[iend:])
PY
echo "report_png: $out ($stamp)"
