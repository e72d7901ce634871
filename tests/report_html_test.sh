#!/usr/bin/env bash
# tests/report_html_test.sh - report.html as a browser shows it. Renders the
# sample report, loads it in headless Chromium (installed with apt-get when
# missing, as root), checks in the DOM that the verdict, the matrix and the
# timelines are there and that hostile text stayed text, then takes a
# screenshot (docs/report.png, the standard suite's, is scripts/report_png.sh's).
set -euo pipefail
bin=${FAULTLINE:-build/faultline}

browser=$(command -v chromium || true)
if [ -z "$browser" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "report_html_test: chromium is missing and installing it needs root" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq --no-install-recommends chromium >/dev/null
	browser=$(command -v chromium)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/sample" "$work/hostile"
cp tests/data/reports/sample/report.json "$work/sample/"
cp tests/data/reports/hostile/report.json "$work/hostile/"
"$bin" report render "$work/sample"
"$bin" report render "$work/hostile"

chrome() { # output-flag page
	timeout 90 "$browser" --headless --no-sandbox --disable-gpu --disable-quic \
		--no-first-run --disable-background-networking --disable-component-update \
		--disable-sync --hide-scrollbars --user-data-dir="$(mktemp -d -p "$work")" \
		"$@" 2>>"$work/chromium.log"
}

fail=0
must() { # pattern file what
	if ! grep -qE -- "$1" "$2"; then
		echo "report_html_test: $3: /$1/ not in $2" >&2
		fail=1
	fi
}

chrome --dump-dom "file://$work/sample/report.html" >"$work/sample.dom"
must '<table class="matrix">' "$work/sample.dom" "matrix table"
must '10 of 51 invariant checks violated' "$work/sample.dom" "verdict"
must 'violated \(17/64\)' "$work/sample.dom" "violated cell"
must '○ not exercised' "$work/sample.dom" "not exercised cell"
must 'aria-label="timeline of seed 3"' "$work/sample.dom" "timeline svg"
cells=$(grep -o 'class="cell [a-z]*"' "$work/sample.dom" | wc -l)
if [ "$cells" -ne 51 ]; then
	echo "report_html_test: the matrix has $cells cells, want 51 (17 rows x 3 variants)" >&2
	fail=1
fi

# Hostile names must come out of the parser as text, not as elements.
chrome --dump-dom "file://$work/hostile/report.html" >"$work/hostile.dom"
must '&lt;/script&gt;&lt;b&gt;' "$work/hostile.dom" "escaped hostile name"
if grep -qE '<b>|<svg onload' "$work/hostile.dom"; then
	echo "report_html_test: hostile text became markup in the DOM" >&2
	fail=1
fi

chrome --window-size=1280,2000 --screenshot="$work/report.png" \
	"file://$work/sample/report.html" >/dev/null
if [ "$(head -c 8 "$work/report.png" | od -An -tx1 | tr -d ' \n')" != "89504e470d0a1a0a" ]; then
	echo "report_html_test: the screenshot is not a PNG" >&2
	fail=1
elif [ "$(stat -c %s "$work/report.png")" -lt 20000 ]; then
	echo "report_html_test: the screenshot is nearly empty" >&2
	fail=1
fi
if [ "$fail" -ne 0 ]; then
	sed 's/^/    chromium: /' "$work/chromium.log" | tail -5 >&2
	exit 1
fi
